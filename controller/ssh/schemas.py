"""Shapes of SSH settings, host keys and bulk jobs (API bodies and web forms alike)."""

from datetime import datetime
from typing import Annotated, Literal

from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from controller.schemas import Input, Output
from controller.ssh.errors import error_message
from controller.ssh.models import HostState, JobState, SshAuth
from controller.ssh.templates import TEMPLATES
from controller.validation import check_host, field_messages

TemplateName = Literal[tuple(TEMPLATES)]  # type: ignore[valid-type]
TargetItem = Annotated[
    str, StringConstraints(pattern=r"^(office|device|kind|tag):\S.{0,199}$", max_length=205)
]
Fingerprint = Annotated[str, StringConstraints(pattern=r"^SHA256:[A-Za-z0-9+/]{43}$")]


class SshSettingsIn(Input):
    """How to reach a device over SSH."""

    host: Annotated[str, AfterValidator(lambda v: check_host(v) if v.strip() else "")] = Field(
        "", max_length=253, description="Host name or address; blank: the device's IP."
    )
    port: int = Field(22, ge=1, le=65535)
    username: str = Field("root", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    auth: SshAuth = Field(SshAuth.CONTROLLER, description="controller: the controller's key; "
                          "device: the private key given here.")  # fmt: skip
    private_key: str | None = Field(None, max_length=20_000, description=(
        "For auth=device: an unencrypted OpenSSH/PEM private key; stored encrypted, never "
        "shown again. Leave out to keep the stored one."))  # fmt: skip
    host_key: str | None = Field(None, max_length=5_000, description="A known host key "
                                 "(“ssh-ed25519 AAAA…”) to pin up front.")  # fmt: skip

    @field_validator("private_key", "host_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class SshSettingsOut(Output):
    """A device's SSH settings (never the private key itself)."""

    device_id: int
    host: str
    port: int
    username: str
    auth: SshAuth
    has_device_key: bool
    host_key: str | None
    host_key_fingerprint: str | None
    pinned_by: str | None
    pinned_at: datetime | None
    mismatch_fingerprint: str | None = Field(description="A different key the host showed.")
    mismatch_at: datetime | None


class HostKeyOut(Output):
    """The key a host shows now: compare the fingerprint, then trust it."""

    key: str
    fingerprint: str


class TrustIn(Input):
    """The fingerprint an admin checked; the key is pinned only if the host still shows it."""

    fingerprint: Fingerprint


class PublicKeyOut(Output):
    """The controller's public key, for the devices' authorized_keys."""

    public_key: str
    fingerprint: str


class JobCreate(Input):
    """A command, or a built-in template with its parameters, for every device of the target."""

    target: list[TargetItem] = Field(min_length=1, max_length=20, description=(
        "Any of office:NAME_OR_ID, device:ID, kind:KIND, tag:TAG (union)."))  # fmt: skip
    command: str | None = Field(None, min_length=1, max_length=4000)
    template: TemplateName | None = None
    params: dict = Field(default_factory=dict, description="The template's parameters.")
    concurrency: int = Field(20, ge=1, le=200, description="Hosts handled at the same time.")
    timeout_s: int = Field(300, ge=1, le=3600, description="Seconds each host's command may run.")

    @field_validator("command", mode="before")
    @classmethod
    def _blank_command(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _command_or_template(self):
        if (self.command is None) == (self.template is None):
            raise PydanticCustomError("job_kind", _("Give either a command or a template."),
                                      {"field": "command"})  # fmt: skip
        if self.template is None:
            if self.params:
                raise PydanticCustomError("job_params", _("Only templates take parameters."),
                                          {"field": "params"})  # fmt: skip
            return self
        try:
            parsed = TEMPLATES[self.template].params.model_validate(self.params)
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {v}" for k, v in field_messages(exc).items())
            raise PydanticCustomError("job_params", problems, {"field": "params"}) from None
        self.params = parsed.model_dump()
        return self


class JobHostOut(Output):
    """One device of a job."""

    id: int
    device_id: int | None
    device_name: str
    address: str
    state: HostState
    exit_code: int | None
    output: str
    error: str = Field(description="Stable error code; empty when the command ran.")
    error_message: str = ""
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None

    @model_validator(mode="after")
    def _message(self):
        self.error_message = error_message(self.error) if self.error else ""
        return self


class JobOut(Output):
    """A job and how many of its hosts are in each state."""

    id: int
    template: str | None
    command: str
    params: dict
    target: str
    concurrency: int
    timeout_s: int
    state: JobState
    cancel_requested: bool
    error: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] = Field(default_factory=dict, description="Hosts per state.")

    @field_validator("params", mode="after")
    @classmethod
    def _no_content(cls, params: dict) -> dict:
        if "content" in params:  # pushed files can be large: say how large instead
            params = {**params, "content": f"{len(params['content'].encode())} bytes"}
        return params


class JobDetail(JobOut):
    """A job with one row per host."""

    hosts: list[JobHostOut]


class JobList(Output):
    """The latest jobs, newest first."""

    items: list[JobOut]


class TemplateOut(Output):
    """A built-in template and its parameters."""

    name: str
    label: str
    params: dict = Field(description="JSON schema of the parameters.")


class Templates(Output):
    """The built-in templates."""

    items: list[TemplateOut]
