"""Markup every role's pages share: no attribute rendered from a Python None (`aria-invalid="None"` told
screen readers that a fresh field was invalid: found by the axe gate on the points entry form)."""
from __future__ import annotations

import re

import pytest

from .test_privacy_gate import _crawl, _login

NONE_ATTR = re.compile(r'\s[a-z][a-z-]*="None"')


@pytest.fixture
def demo(app):
    from app.demo import seed_demo

    with app.test_request_context():
        seed_demo(households=8)
    return app


@pytest.mark.parametrize("login", ["clerk", "grid"])
def test_no_attribute_says_none(demo, login):
    client = demo.test_client()
    _login(client, login)
    shown = _crawl(client, ["/", "/points/entries/new"])
    assert "/points/entries/new" in shown or login != "clerk"
    bad = {url: NONE_ATTR.findall(text)[:3] for url, text in shown.items() if NONE_ATTR.search(text)}
    assert bad == {}
