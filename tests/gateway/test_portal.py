"""The captive portal's pages, refusals, probes and RFC 8908 API (Flask test client).

Behind it: the real gateway core and socket server with an in-memory kernel (conftest).
"""

import json
import re

import pytest

from captive_portal import create_app, strings

PORTAL = "http://10.0.0.1:8080"


@pytest.fixture
def portal(served):
    path, kernel, gateway = served
    app = create_app({"GATEWAY_SOCKET": path, "PORTAL_URL": PORTAL, "TESTING": True})
    return app, kernel


def visitor(app, ip="10.0.0.2"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def login(client, lang="pl", **form):
    page = client.get(f"{PORTAL}/?lang={lang}").data
    data = {"csrf_token": token(page), "method": "voucher", "terms": "yes", **form}
    return client.post(f"{PORTAL}/login", data=data)


def test_splash_is_polish_by_default_and_english_on_request(portal):
    app, _kernel = portal
    client = visitor(app)
    page = client.get(f"{PORTAL}/").get_data(as_text=True)
    assert '<html lang="pl">' in page and strings.TEXT["pl"]["voucher_submit"] in page
    assert "Regulamin gminy" in page and "<script" not in page  # works without JavaScript
    assert 'for="code"' in page and 'name="terms"' in page
    page = client.get(f"{PORTAL}/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "The gmina&#39;s terms" in page
    page = client.get(f"{PORTAL}/").get_data(as_text=True)  # the choice is remembered
    assert '<html lang="en">' in page


def test_voucher_login_then_status_and_logout(portal):
    app, kernel = portal
    client = visitor(app)
    answer = login(client, code="good")
    assert answer.status_code == 303 and answer.headers["Location"] == "/status"
    assert "10.0.0.2" in kernel.clients
    page = client.get(f"{PORTAL}/status").get_data(as_text=True)
    assert strings.TEXT["pl"]["time_left"] in page and 'data-seconds="' in page
    assert "0.0 MB" in page  # 100 bytes cap
    assert client.get(f"{PORTAL}/").headers["Location"] == "/status"
    page = client.get(f"{PORTAL}/status").data
    out = client.post(f"{PORTAL}/logout", data={"csrf_token": token(page)})
    assert out.status_code == 200 and strings.TEXT["pl"]["logged_out"] in out.get_data(True)
    assert kernel.clients == {}


def test_click_through(portal):
    app, kernel = portal
    assert login(visitor(app, "10.0.0.3"), method="click").status_code == 303
    assert "10.0.0.3" in kernel.clients


@pytest.mark.parametrize(
    ("form", "status", "key"),
    [
        ({"code": "WRONG"}, 403, "voucher_unknown"),
        ({"code": "OLD"}, 403, "voucher_expired"),
        ({"code": "good", "terms": ""}, 403, "terms_not_accepted"),
        ({"code": ""}, 403, "voucher_unknown"),
        ({"code": "x" * 5000}, 403, "voucher_unknown"),
        ({"method": "admin"}, 400, "bad_form"),
        ({"csrf_token": "forged", "code": "good"}, 400, "bad_form"),
    ],
)
def test_refusals_are_clear_4xx_in_the_visitors_language(portal, form, status, key):
    app, kernel = portal
    for lang in ("pl", "en"):
        answer = login(visitor(app), lang=lang, **form)
        assert answer.status_code == status
        assert strings.TEXT[lang][key] in answer.get_data(as_text=True)
    assert kernel.clients == {}


def test_missing_csrf_and_oversized_bodies(portal):
    app, kernel = portal
    client = visitor(app)
    answer = client.post(f"{PORTAL}/login", data={"method": "voucher", "code": "good"})
    assert answer.status_code == 400
    answer = client.post(f"{PORTAL}/login", data={"code": "A" * 20000})
    assert answer.status_code == 413
    assert strings.TEXT["pl"]["too_large"] in answer.get_data(as_text=True)
    assert kernel.clients == {}


def test_unidentified_client_and_missing_gateway(portal, tmp_path):
    app, kernel = portal
    answer = login(visitor(app, "10.0.0.99"), lang="en", code="good")
    assert answer.status_code == 403
    assert strings.TEXT["en"]["client_unknown"] in answer.get_data(as_text=True)
    broken = create_app({"GATEWAY_SOCKET": str(tmp_path / "none.sock"), "PORTAL_URL": PORTAL})
    answer = visitor(broken).get(f"{PORTAL}/")
    assert answer.status_code == 503
    assert strings.TEXT["pl"]["gateway_unavailable"] in answer.get_data(as_text=True)
    assert kernel.clients == {}


def test_brute_force_is_refused_with_429(portal):
    app, kernel = portal
    client = visitor(app)
    codes = [login(client, code=f"BAD{i}").status_code for i in range(6)]
    assert codes == [403] * 5 + [429]
    answer = login(client, code="good", lang="en")
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in answer.get_data(as_text=True)
    assert kernel.clients == {}


@pytest.mark.parametrize(
    ("host", "path", "online_status", "online_body"),
    [
        ("connectivitycheck.gstatic.com", "/generate_204", 204, ""),
        ("captive.apple.com", "/hotspot-detect.html", 200, "Success"),
        ("www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test"),
        ("detectportal.firefox.com", "/success.txt", 200, "success"),
        ("detectportal.firefox.com", "/canonical.html", 200, "captive-portal"),
    ],
)
def test_os_probes_open_the_portal_then_see_they_are_online(
    portal, host, path, online_status, online_body
):
    app, _kernel = portal
    client = visitor(app)
    before = client.get(f"http://{host}{path}")
    assert before.status_code == 302 and before.headers["Location"] == f"{PORTAL}/"
    other = client.get(f"http://{host}/anything")
    assert other.status_code == 302
    assert login(client, code="good").status_code == 303
    after = client.get(f"http://{host}{path}")
    assert after.status_code == online_status and online_body in after.get_data(as_text=True)


def test_rfc8908_api(portal):
    app, _kernel = portal
    client = visitor(app)
    answer = client.get(f"{PORTAL}/api/captive")
    assert answer.mimetype == "application/captive+json"
    assert "no-store" in answer.headers["Cache-Control"]
    assert json.loads(answer.data) == {"captive": True, "user-portal-url": f"{PORTAL}/"}
    login(client, code="good")
    body = json.loads(client.get(f"{PORTAL}/api/captive").data)
    assert body["captive"] is False and 0 < body["seconds-remaining"] <= 600
    assert body["bytes-remaining"] == 100 and body["can-extend-session"] is False


def test_every_string_exists_in_both_languages():
    assert set(strings.TEXT["pl"]) == set(strings.TEXT["en"])
    assert all(strings.TEXT["pl"][k] != strings.TEXT["en"][k] for k in ("title", "logout"))


def test_the_signing_key_is_kept_owner_only_in_the_state_dir(tmp_path):
    first = create_app({"STATE_DIR": str(tmp_path / "portal")})
    again = create_app({"STATE_DIR": str(tmp_path / "portal")})  # a restarted portal
    assert first.config["SECRET_KEY"] == again.config["SECRET_KEY"]
    key = tmp_path / "portal" / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600 and key.read_text() == again.config["SECRET_KEY"]
    assert create_app({}).config["SECRET_KEY"] != first.config["SECRET_KEY"]  # no state dir
