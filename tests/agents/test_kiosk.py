"""Infomat kiosk watchdog and interaction sessions (agent side)."""

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from agents.endpoint import kiosk


def _event(kind: int, code: int = 0, value: int = 1) -> bytes:
    now = time.time()
    return kiosk.EVENT.pack(int(now), int(now % 1 * 1e6), kind, code, value)


def test_input_after_a_quiet_gap_starts_a_new_session(tmp_path):
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    sessions = kiosk.Sessions([str(fifo)], idle_gap=0.4)
    sessions.start()
    writer = os.open(fifo, os.O_WRONLY)  # the reader opened it non-blocking already
    try:
        os.write(writer, _event(kiosk.EV_ABS) + _event(0))  # a touch, then a SYN (ignored)
        time.sleep(0.1)
        os.write(writer, _event(kiosk.EV_KEY))  # same session
        time.sleep(0.6)
        os.write(writer, _event(kiosk.EV_REL)[:10])  # half an event arrives …
        time.sleep(0.05)
        os.write(writer, _event(kiosk.EV_REL)[10:])  # … then the rest: a new session
        deadline = time.monotonic() + 3
        while sessions.count < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.close(writer)
        sessions.stop()
    assert sessions.take() == 2
    assert sessions.take() == 0


def test_process_lookup_reads_proc(tmp_path):
    (tmp_path / "123").mkdir()
    (tmp_path / "123" / "comm").write_text("chromium\n")
    assert kiosk.process_running("chromium", proc=tmp_path)
    assert not kiosk.process_running("firefox", proc=tmp_path)
    assert kiosk.process_running(Path("/proc/self/comm").read_text().strip())


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_watchdog_restarts_after_two_bad_checks():
    server = HTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        restarts = []
        dog = kiosk.Watchdog("", base + "/ok", lambda: restarts.append(1))
        assert dog.check()["responding"] is True and not restarts
        dog.url = base + "/broken"
        first = dog.check()
        assert first["responding"] is False and not restarts  # one bad check is forgiven
        second = dog.check()
        assert restarts == [1] and second["restarts"] == 1 and second["last_restart"]
        dog.process = "no-such-kiosk-process"
        dog.url = base + "/ok"
        dog.check()
        dog.check()
        assert restarts == [1, 1]
    finally:
        server.shutdown()
        server.server_close()
