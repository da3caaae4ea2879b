"""SSH pages: jobs (new, list, live progress, cancel), device SSH settings and host key trust."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError

from controller.auth.roles import Perm
from controller.devices import service as devices
from controller.devices.views import detail_page
from controller.errors import DomainError, Invalid
from controller.forms import FormState, submit, ui_actor
from controller.security import requires
from controller.ssh import jobs, keys, service
from controller.ssh.errors import error_message
from controller.ssh.models import JobState
from controller.ssh.schemas import JobCreate, SshSettingsIn, TrustIn
from controller.ssh.templates import TEMPLATES
from controller.validation import field_messages

bp = Blueprint("ssh", __name__)
_PARAMS = ("service", "path", "content", "mode", "controller_url", "package")
_NEW_JOB = {"concurrency": 20, "timeout_s": 300, "mode": "0644"}


@bp.app_context_processor
def _helpers():
    return {
        "ssh_settings": service.settings_of,
        "ssh_templates": TEMPLATES,
        "ssh_error": error_message,
        "ssh_key_alerts": lambda: service.key_alerts(current_user),
    }


@bp.get("/ssh/jobs")
@requires(Perm.INVENTORY_READ)
def jobs_page(form: FormState | None = None):
    """The latest jobs of the user's offices, and the form for a new one."""
    values = dict(_NEW_JOB, target=request.args.get("target", ""))
    page = render_template("ssh/jobs.html", jobs=jobs.latest(current_user),
                           form=form or FormState(values=values))  # fmt: skip
    return page, (form.status if form else 200)


@bp.post("/ssh/jobs")
@requires(Perm.COMMANDS_RUN)
def create_job():
    """Start a job in the background and show its live progress."""
    form = request.form
    template = form.get("template") or None
    values = {
        "target": [t.strip() for t in form.get("target", "").splitlines() if t.strip()],
        "command": None if template else form.get("command"),
        "template": template,
        "params": {k: v for k in _PARAMS if (v := form.get(k, "")) and _uses(template, k)},
        "concurrency": form.get("concurrency") or 20,
        "timeout_s": form.get("timeout_s") or 300,
    }
    state = FormState(values={**{k: form.get(k, "") for k in (*_PARAMS, "target", "command",
                                                             "template", "concurrency",
                                                             "timeout_s")}})  # fmt: skip
    try:
        try:
            data = JobCreate.model_validate(values)
        except ValidationError as exc:
            raise Invalid(_("Please correct the marked fields."), field_messages(exc)) from None
        job = jobs.create(ui_actor(), data)
    except DomainError as exc:
        from controller.extensions import db

        db.session.rollback()
        state.errors, state.message = exc.fields, exc.message
        return jobs_page(state)
    jobs.start_background(jobs.current(), job.id)
    return redirect(url_for(".job", job_id=job.id))


def _uses(template: str | None, name: str) -> bool:
    return template in TEMPLATES and name in TEMPLATES[template].params.model_fields


@bp.get("/ssh/jobs/<id:job_id>")
@requires(Perm.INVENTORY_READ)
def job(job_id: int):
    """One job: a row per host, refreshed live while it runs."""
    found = jobs.get_job(current_user, job_id)
    hosts = jobs.visible_hosts(current_user, found)
    live = found.state in (JobState.QUEUED, JobState.RUNNING)
    return render_template("ssh/job.html", job=found, hosts=hosts, counts=jobs.counts(hosts),
                           live=live)  # fmt: skip


@bp.post("/ssh/jobs/<id:job_id>/cancel")
@requires(Perm.COMMANDS_RUN)
def cancel_job(job_id: int):
    """Ask the job to stop."""
    found = jobs.request_cancel(ui_actor(), jobs.get_job(current_user, job_id))
    flash(_("Job #%(id)d is being cancelled.", id=found.id), "success")
    return redirect(url_for(".job", job_id=found.id))


@bp.get("/ssh/key")
@requires(Perm.INVENTORY_READ)
def public_key():
    """The controller's public key, to install in the devices' authorized_keys."""
    key = keys.controller_key(current_app.instance_path)
    return render_template("ssh/key.html", public_key=keys.public_line(key),
                           fingerprint=keys.fingerprint(key))  # fmt: skip


@bp.post("/devices/<id:device_id>/ssh")
@requires(Perm.DEVICES_WRITE)
def settings(device_id: int):
    """Change how the device is reached over SSH."""
    device = devices.get_device(current_user, device_id)
    saved, state = submit(SshSettingsIn, lambda d: service.update(ui_actor(), device, d),
                          required=("port", "username", "auth"))  # fmt: skip
    if saved is None:
        state.values.pop("private_key", None)
        return detail_page(device, ssh_form=state), state.status
    flash(_("SSH settings of “%(name)s” saved.", name=device.name), "success")
    return redirect(url_for("devices.detail", device_id=device.id) + "#ssh-h")


@bp.post("/devices/<id:device_id>/ssh/fetch")
@requires(Perm.DEVICES_WRITE)
def fetch_key(device_id: int):
    """Show the key the host offers now, with a button to trust it."""
    device = devices.get_device(current_user, device_id)
    try:
        key, fingerprint = service.fetch(device)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("devices.detail", device_id=device.id) + "#ssh-h")
    return detail_page(device, fetched={"key": key, "fingerprint": fingerprint})


@bp.post("/devices/<id:device_id>/ssh/trust")
@requires(Perm.DEVICES_WRITE)
def trust(device_id: int):
    """Pin the host key the admin confirmed."""
    device = devices.get_device(current_user, device_id)
    try:
        data = TrustIn.model_validate({"fingerprint": request.form.get("fingerprint", "")})
        service.trust(ui_actor(), device, data.fingerprint)
    except ValidationError:
        flash(_("The fingerprint is not valid."), "error")
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Host key %(fp)s trusted.", fp=data.fingerprint), "success")
    return redirect(url_for("devices.detail", device_id=device.id) + "#ssh-h")
