"""WSGI entry point for gunicorn: `gunicorn controller.wsgi:app`."""

from controller import create_app

app = create_app()
