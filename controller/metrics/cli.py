"""`telecentre metrics token`: a bearer token for Prometheus to scrape /metrics with."""

import hashlib
import os
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from controller.audit.service import Actor, record
from controller.extensions import db
from controller.metrics.views import TOKEN_HASH_FILE


@click.group()
def metrics() -> None:
    """Prometheus metrics."""


@metrics.command("token")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Also write the token to this file (mode 0600), e.g. Prometheus's "
                   "credentials_file.")  # fmt: skip
@with_appcontext
def token(output) -> None:
    """Make a new metrics token, print it once; it replaces the previous one."""
    secret = "tm_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    _write_private(Path(current_app.instance_path) / TOKEN_HASH_FILE, digest + "\n")
    if output:
        _write_private(Path(output), secret + "\n")
    record(Actor(None, "cli"), "metrics.token_create", None, object_type="metrics_token",
           label=secret[:6])  # fmt: skip
    db.session.commit()
    click.echo(secret)


def _write_private(path: Path, text: str) -> None:
    """Write text to path atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
