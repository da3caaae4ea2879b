"""Set up a throw-away controller instance through its CLI and its REST API."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench._figures import BenchError
from bench._http import JsonClient

WSGI_APP = "controller.wsgi:app"
EMAIL = "bench@example.org"
PASSWORD = "bench-password-123"


def instance_env(instance: Path) -> dict[str, str]:
    """Return the environment variables that point the controller at `instance`."""
    return {"TELECENTRE_INSTANCE_PATH": str(instance)}


def _telecentre() -> str:
    """Return the path of the `telecentre` console script next to this Python."""
    beside = Path(sys.executable).parent / "telecentre"
    exe = str(beside) if beside.exists() else shutil.which("telecentre")
    if exe is None:
        raise BenchError("the `telecentre` console script is missing; run `pip install -e .`")
    return exe


def cli(instance: Path, *args: str, stdin: str | None = None) -> str:
    """Run one non-interactive `telecentre` command and return its stdout."""
    proc = subprocess.run(
        [_telecentre(), *args],
        env={**os.environ, **instance_env(instance)},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"telecentre {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def prepare(instance: Path) -> str:
    """Create the database, demo data and an admin with an API token; return the token."""
    cli(instance, "db", "upgrade")
    cli(instance, "demo-data")
    cli(instance, "user", "create", "--email", EMAIL, "--role", "admin", "--password-stdin",
        stdin=f"{PASSWORD}\n")  # fmt: skip
    out = cli(instance, "token", "create", "--email", EMAIL, "--name", "bench")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise BenchError("`telecentre token create` printed no token")
    return lines[-1]


def _device(i: int, office_id: int) -> dict:
    """Return the POST body of the i-th benchmark device (unique name, hostname, MAC, IP)."""
    return {
        "office_id": office_id,
        "kind": "pc",
        "name": f"BENCH-PC-{i:04d}",
        "hostname": f"bench-pc-{i:04d}",
        "mac": f"02:be:4c:00:{i >> 8:02x}:{i & 0xFF:02x}",
        "ip": f"10.250.{i // 200}.{i % 200 + 10}",
        "management": "agent",
    }


def top_up(base_url: str, token: str, total: int) -> int:
    """Add devices through POST /api/v1/devices until `total` exist; return the count."""
    client = JsonClient(base_url, token)
    try:
        offices = [o["id"] for o in client.json("GET", "/api/v1/offices?per_page=100")["items"]]
        if not offices:
            raise BenchError("the controller has no offices after `telecentre demo-data`")
        have = client.json("GET", "/api/v1/devices?per_page=1")["total"]
        for i in range(1, total - have + 1):
            client.json("POST", "/api/v1/devices", _device(i, offices[i % len(offices)]), 201)
        return client.json("GET", "/api/v1/devices?per_page=1")["total"]
    finally:
        client.close()
