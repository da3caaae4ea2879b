"""The captive portal: the visitor-facing Flask app served on each hotspot gateway.

Unprivileged: it never touches the firewall. It asks the gateway daemon over a Unix socket
to authorise, deauthorise or describe the client, named only by the TCP peer's address.
"""

import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from agents.common.spool import create_once

csrf = CSRFProtect()
KEY_FILE = "secret_key"


def secret_key(state_dir: Path) -> str:
    """The portal's signing key, kept in the state dir (0600) so that a restart between a
    visitor's form and its submission does not void the form's CSRF token.

    The first process to start writes it (a hard link never replaces an existing file, so
    two starting at once agree on one key).
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / KEY_FILE
    create_once(path, secrets.token_hex(32).encode())
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if len(key) < 32:
        raise SystemExit(f"{path} is damaged: delete it, a new key is made on start")
    return key


def create_app(config: dict | None = None) -> Flask:
    """The portal app; GATEWAY_SOCKET and PORTAL_URL come from the CLI or the test."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=None,  # only CSRF tokens depend on it: from STATE_DIR, else per process
        STATE_DIR=None,
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
    if not app.config["SECRET_KEY"]:
        state = app.config["STATE_DIR"]
        app.config["SECRET_KEY"] = secret_key(Path(state)) if state else secrets.token_hex(32)
    csrf.init_app(app)
    from captive_portal import views

    app.register_blueprint(views.bp)
    return app
