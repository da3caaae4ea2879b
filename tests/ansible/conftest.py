"""Running the real ansible-playbook, ansible-inventory and ansible-lint on ansible/."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
INVENTORY_SCRIPT = ANSIBLE / "inventory" / "telecentre.py"
BIN = Path(sys.executable).parent
_RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def ansible_env(tmp: Path, **extra: str) -> dict:
    """The environment for Ansible's tools: this venv first, every state folder under tmp."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_REMOTE_TMP": str(tmp / "ansible-remote"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "ansible-cp"),
        "ANSIBLE_NOCOLOR": "1",
        "XDG_CACHE_HOME": str(tmp / "cache"),
    }
    env.update(extra)
    return env


def run(argv: list, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a tool from the ansible/ folder; its completed process (text)."""
    return subprocess.run(
        [str(a) for a in argv], cwd=ANSIBLE, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook run: host → ok/changed/unreachable/failed."""
    return {
        host: {"ok": int(ok), "changed": int(ch), "unreachable": int(un), "failed": int(fa)}
        for host, ok, ch, un, fa in _RECAP.findall(output)
    }


@pytest.fixture(scope="session")
def agent_wheel(tmp_path_factory) -> Path:
    """A wheel of this repository, built from a copy so the work tree stays untouched."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "src"
    source.mkdir()
    for name in ("controller", "agents", "captive_portal"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(folder / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (folder / "dist").glob("*.whl")
    return wheel
