"""Running the controller's commands on the device: each uid at most once, results spooled.

Standard library only. What each command runs can be changed in the [commands] section of
the config file (for distributions that lock screens differently, or for a dry run);
`run_script` runs only scripts named in the [scripts] section (name = absolute path).
"""

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from agents.common.spool import write_atomically

OUTPUT_LIMIT = 16_000
REMEMBERED = 500  # uids kept to refuse a second run
DEFAULTS = {
    "lock": "loginctl lock-sessions",
    "unlock": "loginctl unlock-sessions",
    "reboot": "systemctl reboot",
    "shutdown": "systemctl poweroff",
    "restart_kiosk": "systemctl restart telecentre-kiosk.service",
    "update_packages": (
        "sh -c 'apt-get update && apt-get -y -o Dpkg::Options::=--force-confold upgrade'"
    ),
    "message": "wall",
    # Prints the whole screen as PNG on standard output (ImageMagick's import).
    "screenshot": "import -window root png:-",
}
# These end the agent too: their result is reported before they start.
REPORT_FIRST = frozenset({"reboot", "shutdown"})


class Ledger:
    """The uids already started, on disk before anything runs, so nothing runs twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.uids: list[str] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            self.uids = []

    def claim(self, uid: str) -> bool:
        """Note uid as started; False if it was started before."""
        if uid in self.uids:
            return False
        self.uids = [*self.uids, uid][-REMEMBERED:]
        write_atomically(self.path, json.dumps(self.uids).encode())
        return True


def argv_for(command: dict, commands: dict, scripts: dict) -> list[str]:
    """The program and arguments a command runs; ValueError when it cannot run here."""
    kind, args = command.get("kind"), command.get("args") or {}
    if kind == "run_script":
        path = scripts.get(str(args.get("script", "")))
        if not path:
            raise ValueError(f"script {args.get('script')!r} is not in this device's allow-list")
        if not (os.path.isabs(path) and os.access(path, os.X_OK)):
            raise ValueError(f"allowed script {path} is missing or not executable")
        return [path]
    if kind not in DEFAULTS:
        raise ValueError(f"unknown command {kind!r}")
    argv = shlex.split(commands.get(kind, DEFAULTS[kind]))
    if kind == "message":
        argv.append(str(args.get("message", ""))[:500])
    return argv


def capture(argv: list[str], timeout: float) -> tuple[int, bytes, str]:
    """Run argv and keep its standard output as bytes; (exit code, output, error text)."""
    try:
        done = subprocess.run(  # noqa: S603 - argv from the defaults or the device's config
            argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return -9, b"", f"killed after {timeout:g} s"
    except OSError as exc:
        return 127, b"", f"cannot run {argv[0]}: {exc}"
    return done.returncode, done.stdout, done.stderr.decode(errors="replace")[-2000:]


def execute(argv: list[str], timeout: float) -> tuple[int, str, float]:
    """Run argv without a shell; (exit code, trimmed output, seconds)."""
    started = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
    try:
        done = subprocess.run(  # noqa: S603 - argv from the allow-list or the defaults above
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        code, output = done.returncode, done.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as exc:
        code = -9
        output = (exc.stdout or b"").decode(errors="replace") + f"\n[killed after {timeout:g} s]"
    except OSError as exc:
        code, output = 127, f"cannot run {argv[0]}: {exc}"
    return code, output[-OUTPUT_LIMIT:], round(time.monotonic() - started, 3)
