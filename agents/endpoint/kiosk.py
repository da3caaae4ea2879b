"""Infomat kiosk: a watchdog for the kiosk browser and a counter of interaction sessions.

Standard library only.

Watchdog: the kiosk is healthy when its process runs (found by name in /proc) and its page
answers over HTTP; after two unhealthy checks in a row the agent runs the restart command.

Interaction sessions: input events (touch screen, keyboard, mouse) are read from evdev
devices (/dev/input/event*); input after at least ``idle_gap`` seconds of quiet starts a
new session. Counts are handed out (and reset) when the agent spools a usage record.
"""

import os
import select
import struct
import threading
import time
import urllib.request
from pathlib import Path

# struct input_event on 64-bit Linux: timeval (two longs), __u16 type, __u16 code, __s32 value
EVENT = struct.Struct("llHHi")
EV_KEY, EV_ABS, EV_REL = 1, 3, 2
_INPUT_TYPES = frozenset({EV_KEY, EV_ABS, EV_REL})


def process_running(name: str, proc: Path = Path("/proc")) -> bool:
    """Whether a process with this command name (comm) runs."""
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name[:15]:
                return True
        except OSError:
            continue
    return False


def page_answers(url: str, timeout: float = 5.0) -> bool:
    """Whether the kiosk's page answers with a 2xx within the timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


class Watchdog:
    """Checks the kiosk and restarts it after two bad checks in a row."""

    def __init__(self, process: str, url: str, restart) -> None:
        self.process, self.url, self.restart = process, url, restart
        self.bad_checks = 0
        self.restarts = 0
        self.last_restart: float | None = None
        self.state = {"running": None, "responding": None}

    def check(self) -> dict:
        """Check once (restarting if needed); the kiosk state for the heartbeat."""
        running = process_running(self.process) if self.process else None
        responding = page_answers(self.url) if self.url else None
        healthy = running is not False and responding is not False
        self.bad_checks = 0 if healthy else self.bad_checks + 1
        if self.bad_checks >= 2:
            self.restart()
            self.restarts += 1
            self.last_restart = time.time()
            self.bad_checks = 0
        self.state = {"running": running, "responding": responding, "restarts": self.restarts,
                      "last_restart": self.last_restart}  # fmt: skip
        return self.state


class Sessions:
    """Counts interaction sessions from evdev input devices, in a background thread."""

    def __init__(self, paths: list[str], idle_gap: float = 60.0) -> None:
        self.paths, self.idle_gap = paths, idle_gap
        self.count = 0
        self.last_input: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="kiosk-input", daemon=True)

    def start(self) -> None:
        """Start reading input devices."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading."""
        self._stop.set()

    def take(self) -> int:
        """Sessions started since the last call."""
        with self._lock:
            count, self.count = self.count, 0
        return count

    def seen(self, at: float) -> None:
        """Note an input event at a time (seconds)."""
        with self._lock:
            if self.last_input is None or at - self.last_input >= self.idle_gap:
                self.count += 1
            self.last_input = at

    def _read(self) -> None:
        fds = {}
        for path in self.paths:
            try:
                fds[os.open(path, os.O_RDONLY | os.O_NONBLOCK)] = b""
            except OSError:
                continue
        try:
            while fds and not self._stop.is_set():
                ready, _w, _x = select.select(list(fds), [], [], 0.5)
                for fd in ready:
                    try:
                        chunk = os.read(fd, EVENT.size * 64)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:  # a closed FIFO or a device gone: wait and retry
                        time.sleep(0.2)
                        continue
                    data = fds[fd] + chunk
                    whole = len(data) - len(data) % EVENT.size
                    for offset in range(0, whole, EVENT.size):
                        _sec, _usec, kind, _code, _value = EVENT.unpack_from(data, offset)
                        if kind in _INPUT_TYPES:
                            self.seen(time.monotonic())
                    fds[fd] = data[whole:]
        finally:
            for fd in fds:
                os.close(fd)
