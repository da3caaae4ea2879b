"""SSH settings, host key trust and bulk jobs through the staff API (/api/v1)."""

from flask import current_app

from controller.api import endpoint
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.devices import service as devices
from controller.ssh import jobs, keys, service
from controller.ssh.schemas import (
    HostKeyOut,
    JobCreate,
    JobDetail,
    JobHostOut,
    JobList,
    JobOut,
    PublicKeyOut,
    SshSettingsIn,
    SshSettingsOut,
    TemplateOut,
    Templates,
    TrustIn,
)
from controller.ssh.templates import TEMPLATES


@endpoint("/devices/<id:device_id>/ssh", summary="Show a device's SSH settings", tag="ssh",
          perm=Perm.INVENTORY_READ, response=SshSettingsOut, errors=(404,))  # fmt: skip
def get_ssh_settings(user, device_id: int):
    """Address, user, authentication and the pinned host key (never a private key)."""
    return service.out(service.settings_of(devices.get_device(user, device_id)))


@endpoint("/devices/<id:device_id>/ssh", "PUT", summary="Set a device's SSH settings", tag="ssh",
          perm=Perm.DEVICES_WRITE, body=SshSettingsIn, response=SshSettingsOut,
          errors=(404, 422))  # fmt: skip
def put_ssh_settings(user, device_id: int, body: SshSettingsIn):
    """Only for devices managed over SSH; a private key given is stored encrypted."""
    device = devices.get_device(user, device_id)
    return service.out(service.update(api_actor(user), device, body))


@endpoint("/devices/<id:device_id>/ssh/host-key", "POST", summary="Fetch a device's host key",
          tag="ssh", perm=Perm.DEVICES_WRITE, response=HostKeyOut,
          errors=(404, 409, 422))  # fmt: skip
def fetch_host_key(user, device_id: int):
    """The key the host shows now and its fingerprint; nothing is trusted or stored."""
    key, fingerprint = service.fetch(devices.get_device(user, device_id))
    return HostKeyOut(key=key, fingerprint=fingerprint)


@endpoint("/devices/<id:device_id>/ssh/trust", "POST", summary="Trust a device's host key",
          tag="ssh", perm=Perm.DEVICES_WRITE, body=TrustIn, response=SshSettingsOut,
          errors=(404, 409, 422))  # fmt: skip
def trust_host_key(user, device_id: int, body: TrustIn):
    """Pin the key only if the host still shows the fingerprint confirmed."""
    device = devices.get_device(user, device_id)
    return service.out(service.trust(api_actor(user), device, body.fingerprint))


@endpoint("/ssh/public-key", summary="The controller's SSH public key", tag="ssh",
          perm=Perm.INVENTORY_READ, response=PublicKeyOut)  # fmt: skip
def public_key(user):
    """Install it in the devices' authorized_keys."""
    key = keys.controller_key(current_app.instance_path)
    return PublicKeyOut(public_key=keys.public_line(key), fingerprint=keys.fingerprint(key))


@endpoint("/ssh/templates", summary="List the built-in job templates", tag="ssh",
          perm=Perm.INVENTORY_READ, response=Templates)  # fmt: skip
def list_templates(user):
    """Names, labels and the JSON schema of each template's parameters."""
    return Templates(items=[TemplateOut(name=t.name, label=str(t.label),
                                        params=t.params.model_json_schema())
                            for t in TEMPLATES.values()])  # fmt: skip


@endpoint("/ssh/jobs", "POST", summary="Start a job on many devices", tag="ssh",
          perm=Perm.COMMANDS_RUN, body=JobCreate, response=JobDetail, status=202,
          errors=(404, 422))  # fmt: skip
def create_job(user, body: JobCreate):
    """The job runs in the background; follow it at GET /ssh/jobs/{id}."""
    job = jobs.create(api_actor(user), body)
    jobs.start_background(jobs.current(), job.id)
    return detail(user, job)


@endpoint("/ssh/jobs", summary="List jobs", tag="ssh", perm=Perm.INVENTORY_READ,
          response=JobList)  # fmt: skip
def list_jobs(user):
    """The latest 50 jobs that touched the caller's offices."""
    items = []
    for job in jobs.latest(user):
        out = JobOut.model_validate(job)
        out.counts = jobs.counts(jobs.visible_hosts(user, job))
        items.append(out)
    return JobList(items=items)


@endpoint("/ssh/jobs/<id:job_id>", summary="Show a job", tag="ssh", perm=Perm.INVENTORY_READ,
          response=JobDetail, errors=(404,))  # fmt: skip
def get_job(user, job_id: int):
    """State, exit code, output and duration per host (of the caller's offices)."""
    return detail(user, jobs.get_job(user, job_id))


@endpoint("/ssh/jobs/<id:job_id>/cancel", "POST", summary="Cancel a job", tag="ssh",
          perm=Perm.COMMANDS_RUN, response=JobDetail, errors=(404,))  # fmt: skip
def cancel_job(user, job_id: int):
    """Hosts not started are cancelled; running commands are abandoned."""
    job = jobs.request_cancel(api_actor(user), jobs.get_job(user, job_id))
    return detail(user, job)


def detail(user, job) -> JobDetail:
    """A job as the user may see it."""
    hosts = jobs.visible_hosts(user, job)
    out = JobDetail.model_validate(job)
    out.hosts = [JobHostOut.model_validate(h) for h in hosts]
    out.counts = jobs.counts(hosts)
    return out
