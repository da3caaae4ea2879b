"""A durable, ordered, bounded spool of records waiting for the controller's acknowledgement.

Standard library only. Each record is one file named by its sequence number, written to a
temporary file, flushed to disk and renamed into place, so a power cut leaves either the whole
record or none. The next sequence number is kept the same way. Records are deleted only when
the controller has acknowledged them, which it does by sequence number, de-duplicating on its
side; so every record arrives exactly once in effect, in order.

Size policy: at most ``max_records`` records. When full, the oldest *heartbeats* are dropped
(a newer heartbeat supersedes them); command results and usage counters are never dropped.
"""

import json
import os
import threading
from collections import namedtuple
from pathlib import Path

DROPPABLE = frozenset({"heartbeat"})
_SUFFIX = ".json"


class Record(namedtuple("Record", "seq kind body")):
    """One spooled record (a named tuple: dataclasses cost the agents a megabyte of memory)."""

    __slots__ = ()


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace path with data so that readers and crashes see the old or the new file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Records on disk, oldest first, until acknowledged."""

    def __init__(self, folder: Path, max_records: int = 5000) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_records = max_records
        self._lock = threading.Lock()
        self._seq_file = self.folder / "next_seq"

    def _next_seq(self) -> int:
        try:
            stored = int(self._seq_file.read_text())
        except (FileNotFoundError, ValueError):
            stored = 1
        # Never reuse a number still on disk, even if next_seq was lost.
        on_disk = max((seq for seq, _kind, _path in self._files()), default=0)
        return max(stored, on_disk + 1)

    def _files(self) -> list[tuple[int, str, Path]]:
        found = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            seq, _sep, kind = path.stem.partition(".")
            if seq.isdigit() and kind:
                found.append((int(seq), kind, path))
        return sorted(found)

    def append(self, kind: str, body: dict) -> int:
        """Store a record durably and return its sequence number."""
        if not kind.isidentifier():
            raise ValueError(f"bad record kind {kind!r}")
        data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        with self._lock:
            seq = self._next_seq()
            write_atomically(self._seq_file, str(seq + 1).encode())
            write_atomically(self.folder / f"{seq:012d}.{kind}{_SUFFIX}", data)
            self._enforce_bound()
        return seq

    def _enforce_bound(self) -> None:
        files = self._files()
        excess = len(files) - self.max_records
        for _seq, kind, path in files:
            if excess <= 0:
                break
            if kind in DROPPABLE:
                path.unlink(missing_ok=True)
                excess -= 1

    def pending(self, limit: int = 100) -> list[Record]:
        """The oldest records not yet acknowledged, in order."""
        out = []
        with self._lock:
            for seq, kind, path in self._files()[:limit]:
                try:
                    body = json.loads(path.read_bytes())
                except (OSError, ValueError):
                    path.unlink(missing_ok=True)  # a torn temp file never gets this name
                    continue
                out.append(Record(seq, kind, body))
        return out

    def acknowledge(self, up_to: int) -> int:
        """Delete every record with a sequence number up to and including up_to."""
        removed = 0
        with self._lock:
            for seq, _kind, path in self._files():
                if seq > up_to:
                    break
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def __len__(self) -> int:
        return len(self._files())
