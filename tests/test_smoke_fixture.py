def test_app_boots_and_login_page_is_chinese(client):
    r = client.get("/login")
    assert r.status_code == 200
