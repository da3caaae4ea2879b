"""The lean app of the signed device APIs, mounted in front of the staff app.

Agents (and gateways) call the controller every 30 s each, which makes their verbs the hottest
path of the system. They need none of what staff requests need — sessions, sign-in, CSRF, rate
limits per address, security headers for pages, templates — so they are served by a second,
minimal Flask app that shares the configuration and the database, and is chosen by path prefix
before the staff app sees the request. Its errors use the API's one envelope. Its verbs check
signatures and bodies before they take SQLite's write lock (`database.begin_writing`), so
concurrent agents queue only for the writes themselves.
"""

import logging

from flask import Flask
from flask.sessions import SessionInterface

from controller.extensions import babel, db

log = logging.getLogger(__name__)
PREFIXES = ("/api/agent/", "/api/portal/")


def create_devices_app(main: Flask) -> Flask:
    """The signed device APIs' app, sharing main's configuration and database settings."""
    from controller.database import use_request_connections
    from controller.fleet.api import bp as agent_bp
    from controller.fleet.lane import HeartbeatLane
    from controller.i18n import select_locale
    from controller.portal.api import bp as portal_bp
    from controller.web import IdConverter, register_error_handling

    app = _DevicesFlask(__name__, instance_path=main.instance_path)
    app.config = main.config
    app.session_interface = _NoSessions()
    app.url_map.converters["id"] = IdConverter
    _share_database(main, app)
    use_request_connections(app)
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(agent_bp)
    app.register_blueprint(portal_bp)
    register_error_handling(app)  # every path here is under /api/: answered in JSON
    app.wsgi_app = HeartbeatLane(app, app.wsgi_app)  # the common heartbeat, without Flask
    return app


def _share_database(main: Flask, app: Flask) -> None:
    # One engine (one connection pool) per process for both apps. Flask-SQLAlchemy has no
    # public way to register a second app on existing engines, so this does what its
    # init_app does, minus creating new engines.
    app.extensions["sqlalchemy"] = db
    app.teardown_appcontext(db._teardown_session)
    db._app_engines[app] = db._app_engines[main]


class _DevicesFlask(Flask):
    """Flask without the per-call check for async views, which this app has none of."""

    def ensure_sync(self, func):
        return func  # Flask asks inspect about every hook and view on every request


class _NoSessions(SessionInterface):
    """Devices sign every request; there is no cookie session to open or save."""

    def open_session(self, app, request):
        return None  # Flask then uses a null session, which is never saved


class PathDispatcher:
    """WSGI: device API paths go to the devices app, everything else to the staff app.

    Unlike a mount, it leaves SCRIPT_NAME and PATH_INFO alone: signatures cover the full path.
    """

    def __init__(self, staff, devices: Flask) -> None:
        self.staff, self.devices = staff, devices

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(PREFIXES):
            return self.devices(environ, start_response)
        return self.staff(environ, start_response)


def mount(main: Flask) -> Flask:
    """Put the devices app in front of main; it is kept as main.extensions["devices_app"]."""
    devices = create_devices_app(main)
    main.extensions["devices_app"] = devices
    main.wsgi_app = PathDispatcher(main.wsgi_app, devices)
    return devices


def all_rules(main: Flask):
    """URL rules of the staff app and of the devices app in front of it."""
    yield from main.url_map.iter_rules()
    yield from main.extensions["devices_app"].url_map.iter_rules()
