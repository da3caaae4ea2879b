"""A durable, ordered, bounded spool of records waiting for the controller's acknowledgement.

Standard library only. Each record is one file named by its sequence number, written to a
temporary file, flushed to disk and renamed into place, so a power cut leaves either the whole
record or none. The next sequence number is kept the same way, and in memory: an append writes
two files and never lists the folder (the folder is read when the spool is opened and on each
``pending``/``acknowledge``). One Spool object per folder and process. Records are deleted only when
the controller has acknowledged them, which it does by sequence number, de-duplicating on its
side; so every record arrives exactly once in effect, in order.

Size policy: at most ``max_records`` records. When full, the oldest *heartbeats* are dropped
(a newer heartbeat supersedes them); command results and usage counters are never dropped.
"""

import json
import os
import secrets
import threading
from collections import deque, namedtuple
from pathlib import Path

DROPPABLE = frozenset({"heartbeat"})
_SUFFIX = ".json"


class Record(namedtuple("Record", "seq kind body")):
    """One spooled record (a named tuple: dataclasses cost the agents a megabyte of memory)."""

    __slots__ = ()


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace path with data so that readers and crashes see the old or the new file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data, mode, os.O_TRUNC)  # a torn file of a crashed run is overwritten
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def create_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Write path with data unless it exists; True if this call made it.

    Written to a private temporary file and hard-linked into place: a link never replaces an
    existing file, so processes starting together never read half a value and only one wins.
    """
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _write_synced(tmp, data, mode, os.O_EXCL)
        os.link(tmp, path)
        _fsync_dir(path.parent)  # the new name survives a power cut, not only the bytes
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _write_synced(path: Path, data: bytes, mode: int, flag: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flag, mode)
    try:
        view = memoryview(data)
        while view:  # a write may take fewer bytes than it was given
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


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
        self._rescan()

    def _rescan(self) -> None:
        """Read the folder: how many records, which can be dropped, the next number."""
        files = self._files()
        try:
            stored = int(self._seq_file.read_text())
        except (FileNotFoundError, ValueError):
            stored = 1
        # Never reuse a number still on disk, even if next_seq was lost.
        on_disk = files[-1][0] if files else 0
        self._seq = max(stored, on_disk + 1, getattr(self, "_seq", 1))
        self._count = len(files)
        self._droppable = deque(path for _seq, kind, path in files if kind in DROPPABLE)

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
            seq = self._seq
            write_atomically(self._seq_file, str(seq + 1).encode())
            self._seq = seq + 1
            path = self.folder / f"{seq:012d}.{kind}{_SUFFIX}"
            write_atomically(path, data)
            self._count += 1
            if kind in DROPPABLE:
                self._droppable.append(path)
            self._enforce_bound()
        return seq

    def _enforce_bound(self) -> None:
        while self._count > self.max_records and self._droppable:
            path = self._droppable.popleft()
            if path.exists():  # acknowledged meanwhile: nothing to drop
                path.unlink(missing_ok=True)
                self._count -= 1

    def pending(self, limit: int = 100) -> list[Record]:
        """The oldest records not yet acknowledged, in order."""
        out = []
        with self._lock:
            for seq, kind, path in self._files()[:limit]:
                try:
                    body = json.loads(path.read_bytes())
                except OSError:
                    break  # unreadable now (EMFILE, EIO…): kept, and tried again next time
                except ValueError:
                    # Whole files only ever get this name, so this one was damaged on disk:
                    # set aside for a person to look at, not sent and not silently deleted.
                    path.rename(path.with_name(path.name + ".damaged"))
                    continue
                out.append(Record(seq, kind, body))
            self._rescan()
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
            self._rescan()
        return removed

    def __len__(self) -> int:
        """Records waiting (as of this object's last append, pending or acknowledge)."""
        return self._count
