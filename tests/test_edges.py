"""What every request passes at the edge: where `next` may lead, NUL bytes, numbers in URLs."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from app.urls import is_local_path

# Known ways to make "a path on this site" leave it (open-redirect bypasses), as they arrive in a
# query string after the browser's and Werkzeug's decoding, plus their percent-encoded forms.
BYPASSES = [
    "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "\\\\evil.com", "/\\/evil.com",
    "/\t/evil.com", "/\n/evil.com", "/\r/evil.com", "/ /evil.com", "\t//evil.com", " //evil.com",
    "/%09/evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "%2F%2Fevil.com", "/%5Cevil.com", "/%255C%255Cevil.com",
    "/%252F%252Fevil.com", "https://evil.com", "http:evil.com", "http:/evil.com", "https:/\\evil.com",
    "HTTPS://evil.com", "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>",
    "evil.com", "@evil.com", "/\x00/evil.com", "/\u3000/evil.com", "/\u200b/evil.com", "/\u2028/evil.com",
    "/x" * 600,
]
LOCAL = ["/", "/points/entries?status=pending&page=2", "/rules/public/%E7%A4%BA%E8%8C%83",
         "/rules/public/示范村", "/registry/households?q=zsf"]


@pytest.mark.parametrize("target", BYPASSES)
def test_no_bypass_counts_as_a_local_path(target):
    assert not is_local_path(target)


@pytest.mark.parametrize("target", LOCAL)
def test_our_own_paths_do(target):
    assert is_local_path(target)


def _stays_here(location: str) -> bool:
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//") \
        and "\\" not in location and all(ord(c) > 0x20 for c in location)


@pytest.mark.parametrize("target", BYPASSES)
def test_the_language_switch_never_leaves_the_site(client, target):
    r = client.get("/lang/en?next=" + quote(target, safe=""))
    assert r.status_code in (302, 303, 400), r.status_code
    if r.status_code != 400:  # a NUL in the query is refused before the view
        assert _stays_here(r.headers["Location"]), r.headers["Location"]


def test_the_language_switch_returns_to_the_page(client):
    r = client.get("/lang/en?next=" + quote("/points/entries?status=pending", safe=""))
    assert r.headers["Location"] == "/points/entries?status=pending"


@pytest.mark.parametrize("target", ["/%09/evil.com", "//evil.com", "/\\evil.com", "https://evil.com"])
def test_login_never_sends_the_user_off_the_site(client, clerk, target):
    r = client.post("/login?next=" + quote(target, safe=""), data={"username": "clerk1", "password": "pw-12345678"})
    assert r.status_code == 302 and _stays_here(r.headers["Location"]), r.headers.get("Location")


def test_login_follows_a_local_next(client, clerk):
    r = client.post("/login?next=%2Fpoints%2Fentries", data={"username": "clerk1", "password": "pw-12345678"})
    assert r.headers["Location"] == "/points/entries"


@pytest.mark.parametrize("url", ["/rules/public/demo%00", "/rules/public/demo?q=%E6%9D%91%00",
                                 "/lang/en?next=/%00", "/verify?code=AB%00C", "/login?next=%00"])
def test_a_nul_byte_in_a_url_is_refused_with_a_page_not_an_error(client, url):
    r = client.get(url)
    assert r.status_code == 400
    assert "系统没能看懂这次请求" in r.get_data(as_text=True)


def test_a_nul_byte_in_a_logged_in_search_is_refused(clerk_client):
    r = clerk_client.get("/registry/households?q=%E5%BC%A0%00")
    assert r.status_code == 400


@pytest.mark.parametrize("url", ["/points/entries/9223372036854775808", "/points/households/99999999999999999999",
                                 "/registry/households/2147483648"])
def test_an_id_larger_than_any_column_is_not_found(clerk_client, url):
    assert clerk_client.get(url).status_code == 404


def test_the_largest_id_is_still_looked_up(clerk_client):
    assert clerk_client.get("/points/entries/2147483647").status_code == 404


@pytest.mark.parametrize("value", ["9223372036854775808", "99999999999999999999", "2147483648", "-1", "0", "x",
                                   "１", "1e3"])
@pytest.mark.parametrize("url", ["/points/rankings?group=", "/points/entries/batch?group=",
                                 "/registry/households?group="])
def test_a_group_number_from_the_url_never_gives_a_500(clerk_client, url, value):
    r = clerk_client.get(url + quote(value), follow_redirects=True)
    assert r.status_code == 200, (url, value, r.status_code)
