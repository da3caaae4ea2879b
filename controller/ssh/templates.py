"""Built-in job templates: what each runs on a host, and how its result is read."""

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from flask_babel import lazy_gettext as _l
from pydantic import Field, StringConstraints

from controller.schemas import Input
from controller.ssh.client import Connection
from controller.ssh.errors import SshError

OUTPUT_LIMIT = 64_000  # bytes captured per host; more stops the command
STORED_OUTPUT = 16_000  # characters kept in the database (the tail)


@dataclass
class Outcome:
    """What one host did."""

    exit_code: int | None
    output: str
    facts: dict | None = None
    error: str = ""


class NoParams(Input):
    """This template takes no parameters."""


class ServiceParams(Input):
    """restart_service: which service."""

    service: str = Field(pattern=r"^[A-Za-z0-9@_.:-]{1,100}$", description="Service name.")


class PushParams(Input):
    """push_file: the file's content, where it goes and its mode."""

    model_config = Input.model_config | {"str_strip_whitespace": False}  # content is verbatim

    path: Annotated[str, StringConstraints(pattern=r"^/[^\x00\n]{1,4094}$")] = Field(
        description="Absolute path on the device."
    )
    content: str = Field(max_length=256 * 1024, description="Text content (UTF-8).")
    mode: str = Field("0644", pattern=r"^0?[0-7]{3}$", description="Octal file mode.")


class BootstrapParams(Input):
    """bootstrap_agent: where the agent enrols and which package installs it."""

    controller_url: str = Field(pattern=r"^https?://[^\s'\"]{3,300}$")
    package: str = Field("telecentre-controller", pattern=r"^[A-Za-z0-9_.:/@+=<>~-]{1,300}$",
                         description="pip requirement or URL of the agent's package.")  # fmt: skip


UPDATE = (
    "if command -v apt-get >/dev/null 2>&1; then export DEBIAN_FRONTEND=noninteractive; "
    "apt-get update -q && apt-get -y -q -o Dpkg::Options::=--force-confold upgrade; "
    "elif command -v opkg >/dev/null 2>&1; then opkg update && "
    "opkg list-upgradable | cut -d' ' -f1 | xargs -r opkg upgrade; "
    "else echo 'neither apt-get nor opkg found' >&2; exit 127; fi"
)
# Reboot in the background, so the command reports success before the connection drops.
REBOOT = "nohup sh -c 'sleep 2; reboot || /sbin/reboot' >/dev/null 2>&1 & echo 'rebooting'"
FACTS = (
    'echo "os=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || '
    '(. /etc/openwrt_release 2>/dev/null && echo "$DISTRIB_DESCRIPTION") || uname -s)"; '
    'echo "kernel=$(uname -r)"; echo "architecture=$(uname -m)"; '
    'echo "hostname=$(uname -n)"; echo "uptime=$(cut -d\' \' -f1 /proc/uptime)"; '
    "awk '/^MemTotal:/ {print \"memory_kib=\" $2}' /proc/meminfo; "
    'df -P -k / | awk \'NR==2 {print "disk=" $6 " " $2 " " $3}\''
)


def _restart(params: ServiceParams) -> str:
    name = shlex.quote(params.service)
    return (f"if command -v systemctl >/dev/null 2>&1; then systemctl restart {name}; "
            f"else /etc/init.d/{name} restart; fi")  # fmt: skip


def _bootstrap(params: BootstrapParams, token: str) -> str:
    package, url = shlex.quote(params.package), shlex.quote(params.controller_url)
    return (
        "set -e; command -v python3 >/dev/null || { echo 'python3 is missing' >&2; exit 127; }; "
        f"python3 -m pip install -q --break-system-packages {package} 2>/dev/null || "
        f"python3 -m pip install -q {package}; "
        f"telecentre-agent enroll --controller {url} --token {shlex.quote(token)}; "
        "if command -v systemctl >/dev/null 2>&1; then "
        "systemctl enable --now telecentre-agent || true; fi"
    )


def parse_facts(output: str) -> dict:
    """The facts script's key=value lines as the inventory stores them."""
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    facts: dict = {
        k: values[k] for k in ("os", "kernel", "architecture", "hostname") if k in values
    }
    try:
        if "uptime" in values:
            facts["uptime_s"] = int(float(values["uptime"]))
        if "memory_kib" in values:
            facts["memory_bytes"] = int(values["memory_kib"]) * 1024
        if "disk" in values:
            mount, total, used = values["disk"].rsplit(" ", 2)
            facts["disks"] = [{"mount": mount, "total_bytes": int(total) * 1024,
                               "used_bytes": int(used) * 1024}]  # fmt: skip
    except ValueError as exc:
        raise SshError("facts_unreadable", str(exc)) from None
    if "os" not in facts:
        raise SshError("facts_unreadable", output[-500:])
    return facts


@dataclass(frozen=True)
class Template:
    """A named, parameterised job."""

    name: str
    label: object
    params: type[Input]
    command: Callable[..., str]  # (params, secret) -> the shell command (or what is done)
    needs_token: bool = False
    kind: str = "command"  # command | facts | push
    help: object = field(default="")


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("update_packages", _l("Update packages (apt / opkg)"), NoParams,
                 lambda p, s: UPDATE),
        Template("reboot", _l("Reboot"), NoParams, lambda p, s: REBOOT),
        Template("restart_service", _l("Restart a service"), ServiceParams,
                 lambda p, s: _restart(p)),
        Template("push_file", _l("Push a file (SFTP, checksum verified)"), PushParams,
                 lambda p, s: f"sftp → {p.path} (mode {p.mode})", kind="push"),
        Template("collect_facts", _l("Collect facts (OS, uptime, disk) into the inventory"),
                 NoParams, lambda p, s: FACTS, kind="facts"),
        Template("bootstrap_agent", _l("Install and enrol the endpoint agent"), BootstrapParams,
                 _bootstrap, needs_token=True),
    )
}  # fmt: skip


def execute(conn: Connection, template: Template | None, command: str, params: Input | None,
            secret: str, cancelled: Callable[[], bool]) -> Outcome:  # fmt: skip
    """Run a plain command or a template on one connected host."""
    if template is None:
        result = conn.run(command, OUTPUT_LIMIT, cancelled)
        return Outcome(result.exit_code, result.output)
    if template.kind == "push":
        digest = conn.push(params.content.encode(), params.path, int(params.mode, 8))
        return Outcome(0, f"sha256 {digest}  {params.path}\n")
    result = conn.run(template.command(params, secret), OUTPUT_LIMIT, cancelled)
    if template.kind == "facts" and result.exit_code == 0:
        return Outcome(0, result.output, facts=parse_facts(result.output))
    return Outcome(result.exit_code, result.output)
