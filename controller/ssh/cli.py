"""`telecentre job run` (in the foreground, per-host results) and `telecentre ssh …`."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from pydantic import ValidationError

from controller.audit.service import Actor
from controller.errors import DomainError, Invalid

CLI = Actor(None, "cli")


def _fail(message: str, fields: dict | None = None) -> None:
    lines = [f"Error: {message}"] + [f"  {k}: {v}" for k, v in (fields or {}).items()]
    click.echo("\n".join(lines), err=True)
    sys.exit(2)


@click.group()
def job() -> None:
    """Bulk jobs on devices managed over SSH."""


@job.command("run")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="office:NAME_OR_ID, device:ID, kind:KIND or tag:TAG (repeatable, union).",
)
@click.option("--command", help="Shell command to run on every host.")
@click.option("--template", help="A built-in template instead of a command.")
@click.option("--param", "params", multiple=True, help="Template parameter NAME=VALUE.")
@click.option("--concurrency", default=20, show_default=True, help="Hosts at the same time.")
@click.option("--timeout", "timeout_s", default=300, show_default=True,
              help="Seconds each command may run.")  # fmt: skip
@with_appcontext
def job_run(targets, command, template, params, concurrency, timeout_s) -> None:
    """Run a command on every targeted host; exit 1 if any host failed."""
    from controller.extensions import db
    from controller.ssh import jobs
    from controller.ssh.schemas import JobCreate

    values = dict(p.split("=", 1) for p in params if "=" in p)
    try:
        data = JobCreate(target=list(targets), command=command, template=template,
                         params=values, concurrency=concurrency, timeout_s=timeout_s)  # fmt: skip
        created = jobs.create(CLI, data)
    except ValidationError as exc:
        _fail("the job was not started", Invalid.from_pydantic(exc, "").fields)
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    total = len(created.hosts)
    click.echo(f"Job #{created.id}: {total} hosts, {concurrency} at a time")
    failed = 0

    def show(host) -> None:
        nonlocal failed
        failed += host.state.value != "ok"
        code = "-" if host.exit_code is None else host.exit_code
        why = f" {host.error}" if host.error else ""
        click.echo(f"{host.device_name} [{host.address}] {host.state.value}{why} "
                   f"exit={code} {host.duration_s or 0:.2f}s")  # fmt: skip
        for line in host.output.rstrip("\n").splitlines()[-20:]:
            click.echo(f"  | {line}")

    db.session.rollback()  # the runner's threads write; hold no transaction meanwhile
    jobs.run(current_app._get_current_object(), created.id, on_host=show)
    click.echo(f"{total - failed} ok, {failed} failed")
    sys.exit(1 if failed else 0)


@click.group()
def ssh() -> None:
    """SSH: the controller's key and device host keys."""


@ssh.command("public-key")
@with_appcontext
def ssh_public_key() -> None:
    """Print the controller's public key (created on first use)."""
    from controller.ssh import keys

    click.echo(keys.public_line(keys.controller_key(current_app.instance_path)))


@ssh.command("trust")
@click.option("--device", "device_id", required=True, type=int, help="Device id.")
@click.option("--fingerprint", required=True, help="SHA256:… as checked on the device.")
@with_appcontext
def ssh_trust(device_id, fingerprint) -> None:
    """Pin a device's host key if the host shows the fingerprint given."""
    from controller.devices.models import Device
    from controller.extensions import db
    from controller.ssh import service
    from controller.ssh.schemas import TrustIn

    device = db.session.get(Device, device_id)
    if device is None:
        _fail(f"no device {device_id}")
    try:
        data = TrustIn(fingerprint=fingerprint)
        service.trust(CLI, device, data.fingerprint)
    except ValidationError:
        _fail("the fingerprint must look like SHA256: followed by 43 base64 characters")
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    click.echo(f"Trusted {data.fingerprint} for {device.name}.")


@ssh.command("fetch-key")
@click.option("--device", "device_id", required=True, type=int, help="Device id.")
@with_appcontext
def ssh_fetch_key(device_id) -> None:
    """Print the key a device's host shows now and its fingerprint (nothing is trusted)."""
    from controller.devices.models import Device
    from controller.extensions import db
    from controller.ssh import service

    device = db.session.get(Device, device_id)
    if device is None:
        _fail(f"no device {device_id}")
    try:
        key, fingerprint = service.fetch(device)
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    click.echo(f"{fingerprint}\n{key}")
