"""Telecentre Controller: the central Flask app of the county's public access network."""

import os

from flask import Flask

__all__ = ["create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Build the controller app; nothing touches the database here."""
    from controller import cli, database, devices_app, i18n, metrics, security, web
    from controller.config import load_config
    from controller.extensions import csrf, db, limiter, migrate

    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("TELECENTRE_INSTANCE_PATH") or None,
    )
    load_config(app, config)
    database.configure(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(database.MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    web.register(app)
    devices_app.mount(app)
    metrics.init_app(app)
    cli.register(app)
    return app
