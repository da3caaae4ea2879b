"""`telecentre metrics token`: a bearer token for Prometheus to scrape /metrics with."""

import hashlib
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from agents.common.spool import write_atomically
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
    # The output first, the hash (which voids the previous token) last: a failure half-way
    # leaves Prometheus with a token that still works.
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(Path(output), (secret + "\n").encode())
    record(Actor(None, "cli"), "metrics.token_create", None, object_type="metrics_token",
           label=f"sha256:{digest[:8]}")  # fmt: skip
    write_atomically(Path(current_app.instance_path) / TOKEN_HASH_FILE, (digest + "\n").encode())
    db.session.commit()
    click.echo(secret)
