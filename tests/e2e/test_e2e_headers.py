"""The pages cannot be framed by another site (the CSP header's frame-ancestors), in a real browser."""

from __future__ import annotations

import http.server
import threading

import pytest

from consent_ledger.chain.devnet import free_port

pytestmark = pytest.mark.e2e


def _other_site(html: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A page on another origin (another port), as an attacker's site would be."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    port = free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site, f"http://localhost:{port}/"


@pytest.mark.parametrize("path", ["/", "/brand.html", "/auditor.html"])
def test_another_site_cannot_frame_the_pages(browser, server, path) -> None:
    site, url = _other_site(f'<iframe id="victim" src="{server.url}{path}" width="600" height="400"></iframe>')
    context = browser.new_context()
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text))
        with page.expect_response(lambda response: response.url == f"{server.url}{path}") as framed:
            page.goto(url)
        assert "frame-ancestors 'none'" in framed.value.headers["content-security-policy"]
        page.wait_for_timeout(500)
        frame = page.frame_locator("#victim")
        assert frame.locator("main").count() == 0  # nothing of the page was rendered inside the frame
        assert any("frame-ancestors" in text for text in refused), refused
        own = context.new_page()  # the same page opened directly still works
        own.goto(f"{server.url}{path}")
        assert own.locator("main").count() == 1
    finally:
        context.close()
        site.shutdown()
