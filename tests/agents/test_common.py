"""The agents' shared parts: signatures and the durable spool."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from agents.common import signing
from agents.common.spool import Spool

ROOT = Path(__file__).parents[2]


def test_signatures_cover_every_part_of_the_request():
    headers = signing.sign_request("s3cret", 7, "POST", "/api/agent/v1/heartbeat", b"{}", now=1000)
    good = signing.request_signature(
        "s3cret",
        "POST",
        "/api/agent/v1/heartbeat",
        headers[signing.TIMESTAMP],
        headers[signing.NONCE],
        b"{}",
    )
    assert signing.same(good, headers[signing.SIGNATURE])
    variants = [
        ("other", "POST", "/api/agent/v1/heartbeat", "1000", b"{}"),
        ("s3cret", "PUT", "/api/agent/v1/heartbeat", "1000", b"{}"),
        ("s3cret", "POST", "/api/agent/v1/enroll", "1000", b"{}"),
        ("s3cret", "POST", "/api/agent/v1/heartbeat", "1001", b"{}"),
        ("s3cret", "POST", "/api/agent/v1/heartbeat", "1000", b"{ }"),
    ]
    for secret, method, path, stamp, body in variants:
        other = signing.request_signature(secret, method, path, stamp, headers[signing.NONCE], body)
        assert not signing.same(other, headers[signing.SIGNATURE])
    assert headers[signing.NONCE] != signing.sign_request("s", 7, "POST", "/", b"")[signing.NONCE]


def test_answer_signature_binds_the_request_nonce_status_and_body():
    sig = signing.answer_signature("k", "n1", 200, b"{}")
    assert signing.same(sig, signing.answer_signature("k", "n1", 200, b"{}"))
    for nonce, status, body in (("n2", 200, b"{}"), ("n1", 201, b"{}"), ("n1", 200, b"[]")):
        assert not signing.same(sig, signing.answer_signature("k", nonce, status, body))


def test_spool_keeps_order_until_acknowledged_and_survives_restarts(tmp_path):
    spool = Spool(tmp_path)
    seqs = [spool.append("heartbeat", {"n": n}) for n in range(3)]
    assert seqs == [1, 2, 3]
    again = Spool(tmp_path)  # a restarted agent
    assert [(r.seq, r.body["n"]) for r in again.pending()] == [(1, 0), (2, 1), (3, 2)]
    assert again.acknowledge(2) == 2
    assert [r.seq for r in again.pending()] == [3]
    assert again.append("result", {"ok": True}) == 4


def test_spool_never_reuses_a_sequence_number(tmp_path):
    spool = Spool(tmp_path)
    spool.append("heartbeat", {})
    spool.append("heartbeat", {})
    (tmp_path / "next_seq").unlink()  # lost, e.g. a damaged disk block
    assert Spool(tmp_path).append("heartbeat", {}) == 3
    spool.acknowledge(3)
    assert Spool(tmp_path).append("heartbeat", {}) == 4


def test_full_spool_drops_oldest_heartbeats_but_never_results(tmp_path):
    spool = Spool(tmp_path, max_records=4)
    spool.append("result", {"id": "r1"})
    for n in range(3):
        spool.append("heartbeat", {"n": n})
    spool.append("usage", {"sessions": 2})
    spool.append("heartbeat", {"n": 3})
    kinds = [(r.kind, r.body) for r in spool.pending()]
    assert kinds == [
        ("result", {"id": "r1"}),
        ("heartbeat", {"n": 2}),
        ("usage", {"sessions": 2}),
        ("heartbeat", {"n": 3}),
    ]
    for n in range(5):
        spool.append("result", {"id": n})
    assert sum(r.kind == "result" for r in spool.pending(limit=100)) == 6


def test_spool_append_never_lists_the_folder(tmp_path, monkeypatch):
    """The next number and the bound live in memory: appends stay O(1) with a long spool."""
    spool = Spool(tmp_path, max_records=3)
    spool.append("result", {"id": 0})

    def listed(self):
        raise AssertionError("append listed the folder")

    monkeypatch.setattr(Spool, "_files", listed)
    seqs = [spool.append("heartbeat", {"n": n}) for n in range(4)]
    assert seqs == [2, 3, 4, 5] and len(spool) == 3
    monkeypatch.undo()
    again = Spool(tmp_path)  # what is on disk agrees with what the object counted
    assert [(r.kind, r.seq) for r in again.pending()] == [
        ("result", 1),
        ("heartbeat", 4),
        ("heartbeat", 5),
    ]
    assert again.append("result", {}) == 6


def test_a_damaged_record_is_set_aside_not_sent_and_not_deleted(tmp_path):
    spool = Spool(tmp_path)
    spool.append("result", {"n": 1})
    spool.append("result", {"n": 2})
    damaged = next(tmp_path.glob("000000000001.*.json"))
    damaged.write_text('{"n":')  # what a disk error leaves
    assert [r.body for r in spool.pending()] == [{"n": 2}]
    assert damaged.with_name(damaged.name + ".damaged").read_text() == '{"n":'


def test_spool_ignores_torn_temporary_files(tmp_path):
    spool = Spool(tmp_path)
    spool.append("heartbeat", {"n": 1})
    (tmp_path / ".000000000002.heartbeat.json.123.tmp").write_text('{"n":')
    assert [r.seq for r in spool.pending()] == [1]
    with pytest.raises(ValueError):
        spool.append("../escape", {})


@pytest.mark.parametrize("package", ["agents/endpoint", "agents/common"])
def test_endpoint_agent_uses_only_the_standard_library(package):
    """The agent must install on a bare Debian/Ubuntu with nothing but Python."""
    foreign = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top != "agents" and top not in sys.stdlib_module_names:
                    foreign.add(f"{path.relative_to(ROOT)}: {name}")
                if name.startswith("agents.") and not name.startswith(
                    ("agents.common", "agents.endpoint")
                ):
                    foreign.add(f"{path.relative_to(ROOT)}: {name}")
    assert not foreign


def test_the_endpoint_agent_leaves_out_the_heaviest_standard_modules():
    """The agent's memory budget is 25 MB resident: dataclasses alone pull in inspect, ast
    and dis, over a megabyte of it."""
    probe = (
        "import sys, agents.endpoint.main, agents.endpoint.facts, agents.endpoint.commands\n"
        "heavy = ('dataclasses', 'inspect', 'ast', 'typing')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    assert loaded == []


def test_create_once_writes_a_private_file_only_the_first_time(tmp_path):
    from agents.common.spool import create_once

    path = tmp_path / "key"
    assert create_once(path, b"first") is True
    assert create_once(path, b"second") is False
    assert path.read_bytes() == b"first" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no temporary file left behind
