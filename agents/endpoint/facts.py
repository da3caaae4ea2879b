"""What the agent reports: health on every heartbeat, the full inventory when it changes.

Standard library only; reads /proc, /sys and /etc like the tools that show the same.
"""

import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import time
from pathlib import Path

_REAL_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "ntfs", "ntfs3", "exfat", "zfs", "f2fs"}


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return default


def os_name() -> str:
    """PRETTY_NAME from os-release, or the kernel's name."""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')[:200]
    return f"{platform.system()} {platform.release()}"[:200]


def uptime_s() -> float | None:
    """Seconds since boot."""
    text = _read("/proc/uptime").split()
    return float(text[0]) if text else None


def memory() -> dict:
    """Total and available memory in bytes."""
    values = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _sep, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return {"total_bytes": values.get("MemTotal"), "available_bytes": values.get("MemAvailable")}


def disks() -> list[dict]:
    """Use of every mounted real file system."""
    out, seen = [], set()
    for line in _read("/proc/mounts").splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] not in _REAL_FS or parts[1] in seen:
            continue
        seen.add(parts[1])
        try:
            usage = shutil.disk_usage(parts[1])
        except OSError:
            continue
        out.append({"mount": parts[1], "total_bytes": usage.total, "used_bytes": usage.used})
    return out[:64]


class CpuMeter:
    """CPU use between two calls, from /proc/stat."""

    def __init__(self) -> None:
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[int, int] | None:
        first = _read("/proc/stat").splitlines()[:1]
        if not first or not first[0].startswith("cpu "):
            return None
        numbers = [int(n) for n in first[0].split()[1:]]
        idle = numbers[3] + (numbers[4] if len(numbers) > 4 else 0)
        return sum(numbers), idle

    def percent(self) -> float | None:
        """Busy share of all CPUs since the previous call, 0–100."""
        now, last = self._sample(), self._last
        self._last = now
        if now is None or last is None or now[0] <= last[0]:
            return None
        total, idle = now[0] - last[0], now[1] - last[1]
        return round(100.0 * (total - idle) / total, 1)


def logged_in_user() -> str | None:
    """The user at the console (PCs), from `who`, if any."""
    if not shutil.which("who"):
        return None
    try:
        lines = subprocess.run(["who"], capture_output=True, text=True, timeout=5).stdout  # noqa: S607
    except (OSError, subprocess.SubprocessError):
        return None
    users = [line.split()[0] for line in lines.splitlines() if line.split()]
    return users[0][:100] if users else None


def interfaces() -> list[dict]:
    """Network interfaces with their MAC addresses."""
    out = []
    for path in sorted(Path("/sys/class/net").glob("*")):
        mac = _read(str(path / "address")).strip()
        if path.name != "lo":
            out.append({"name": path.name, "mac": mac})
    return out


def primary_mac() -> str | None:
    """The MAC of the first interface that has a real one."""
    for item in interfaces():
        if item["mac"] and item["mac"] != "00:00:00:00:00:00":
            return item["mac"]
    return None


def package_count() -> int | None:
    """Installed Debian packages."""
    text = _read("/var/lib/dpkg/status")
    return text.count("Status: install ok installed") if text else None


def inventory() -> dict:
    """Hardware, OS and network facts that change rarely."""
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
         if line.startswith("model name")), platform.machine(),
    )  # fmt: skip
    return {
        "hostname": socket.gethostname(),
        "os": os_name(),
        "kernel": platform.release(),
        "architecture": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory()["total_bytes"],
        "interfaces": interfaces(),
        "packages": package_count(),
    }


def digest(data: dict) -> str:
    """A stable hash of a JSON-able dict."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def heartbeat(cpu: CpuMeter, version: str, with_inventory: bool = False) -> dict:
    """One heartbeat; the full inventory is attached only when the controller asked for it."""
    inv = inventory()
    beat = {
        "sent_at": time.time(),
        "uptime_s": uptime_s(),
        "load": list(os.getloadavg()),
        "cpu_percent": cpu.percent(),
        "memory": memory(),
        "disks": disks(),
        "os": os_name(),
        "agent_version": version,
        "user": logged_in_user(),
        "inventory_hash": digest(inv),
    }
    if with_inventory:
        beat["inventory"] = inv
    return beat
