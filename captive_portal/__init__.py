"""The captive portal: the visitor-facing Flask app served on each hotspot gateway.

Unprivileged: it never touches the firewall. It asks the gateway daemon over a Unix socket
to authorise, deauthorise or describe the client, named only by the TCP peer's address.
"""

import secrets

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """The portal app; GATEWAY_SOCKET and PORTAL_URL come from the CLI or the test."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),  # per process: only CSRF tokens depend on it
        MAX_CONTENT_LENGTH=8 * 1024,
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=False,  # the splash is reached over plain HTTP by design
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        GATEWAY_SOCKET="/run/telecentre-gateway/gateway.sock",
        PORTAL_URL=None,  # e.g. http://10.44.0.1:8080 ; requests for other hosts go there
        API_URL=None,  # the RFC 8908 API's own URL (HTTPS), defaults to PORTAL_URL's
        VENUE_INFO_URL=None,
    )
    app.config.from_prefixed_env("TELECENTRE_PORTAL")
    app.config.update(config or {})
    csrf.init_app(app)
    from captive_portal import views

    app.register_blueprint(views.bp)
    return app
