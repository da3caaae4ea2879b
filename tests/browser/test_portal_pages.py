"""The captive portal's pages in a real browser: axe-core WCAG 2.1 A/AA, phone width, no JS."""

import threading

import pytest
from werkzeug.serving import make_server

from agents.gateway import api
from agents.gateway.gateway import Gateway
from agents.gateway.nft import Network
from captive_portal import create_app
from tests.browser.test_pages import assert_accessible
from tests.gateway.conftest import MAC, MemoryKernel, cache

PHONE = {"width": 320, "height": 640}


@pytest.fixture
def portal_url(tmp_path):
    """The portal served on loopback, its gateway (in-memory kernel) behind a real socket."""
    cache(tmp_path)
    gateway = Gateway(tmp_path, Network("br0", "wan0", 8080), None, kernel=MemoryKernel(),
                      find_mac=lambda _if, ip, arp=True: MAC if ip == "127.0.0.1" else None,
                      find_ipv6=lambda _if: {})  # fmt: skip
    gateway.start()
    sock = api.Server(tmp_path / "gw.sock", gateway)
    server = make_server("127.0.0.1", 0, create_app({"GATEWAY_SOCKET": str(tmp_path / "gw.sock")}),
                         threaded=True)  # fmt: skip
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
               for s in (sock, server)]  # fmt: skip
    for t in threads:
        t.start()
    yield f"http://127.0.0.1:{server.server_port}"
    for s in (server, sock):
        s.shutdown()
        s.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False])
def test_portal_pages_on_a_phone(browser, portal_url, javascript):
    """Login, refusal, status and logout at 320 px; axe-core (it needs JavaScript) when on."""
    context = browser.new_context(java_script_enabled=javascript, viewport=PHONE, locale="pl-PL")
    context.set_default_timeout(10_000)
    check = assert_accessible if javascript else (lambda page: None)
    try:
        page = context.new_page()
        page.goto(portal_url + "/")
        check(page)
        page.fill("#code", "WRONG")
        page.check("#terms-v")
        page.click("text=Połącz z kodem")
        assert page.locator("#error").is_visible()
        check(page)
        page.goto(portal_url + "/?lang=en")
        page.fill("#code", "good")
        page.check("#terms-v")
        page.click("text=Connect with the code")
        assert page.url.endswith("/status")
        check(page)
        page.click("text=Log out")
        assert "You are logged out" in page.content()
        check(page)
    finally:
        context.close()
