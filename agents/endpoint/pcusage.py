"""Login sessions at a telecentre PC, counted for the usage reports.

A session is a period with a user logged in at the console, seen at each heartbeat. The
agent reports only how many sessions began and how many seconds users were logged in;
no user name leaves the machine (the state file keeps a hash of the last one, to tell a
new login from the same one after the agent restarts).
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path


class PcSessions:
    """Turns the user seen at each heartbeat into `pc_sessions` and `pc_seconds` counts."""

    def __init__(self, path: Path, max_gap: float) -> None:
        self.path, self.max_gap = path, max_gap
        try:
            self.state = json.loads(path.read_text())
        except (OSError, ValueError):
            self.state = {}

    def observe(self, user: str | None, now: float) -> dict | None:
        """Note who is logged in now; the counts since the last look, or None if nothing.

        Time counts only between two looks that both saw the same user, less than max_gap
        apart (a longer gap means the PC or the agent was off: the session ended then).
        """
        who = hashlib.sha256(user.encode()).hexdigest() if user else None
        last_who, last_at = self.state.get("who"), self.state.get("at")
        sessions, seconds = 0, 0.0
        if who is not None:
            gap = now - last_at if isinstance(last_at, int | float) else -1.0
            if who == last_who and 0 <= gap <= self.max_gap:
                seconds = gap + float(self.state.get("carry", 0.0))
            else:
                sessions = 1
        whole = int(seconds)  # whole seconds are sent, the fraction waits for the next look
        self.state = {"who": who, "at": now, "carry": seconds - whole}
        self._save()
        if not sessions and not whole:
            return None
        return {"pc_sessions": sessions, "pc_seconds": whole, "at": now}

    def _save(self) -> None:
        """Write the state atomically (temp file, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pc-sessions-")
        with os.fdopen(fd, "w") as out:
            json.dump(self.state, out)
        os.replace(tmp, self.path)
