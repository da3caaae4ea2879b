"""Run every bench/bench_*.py module, write bench/results.json and print a table."""

import importlib
import json
import os
import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.json"


def discover(only: list[str]) -> list[str]:
    """Return the bench module names to run: all bench_*.py, or those named on the command line."""
    names = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            sys.exit(f"unknown bench modules: {', '.join(sorted(unknown))}")
        names = [n for n in names if n in wanted]
    return names


def run_module(name: str) -> tuple[list, str | None]:
    """Import and run one bench module; return its figures and an error text or None."""
    from bench._figures import BenchError

    print(f"== {name}", file=sys.stderr, flush=True)
    try:
        return list(importlib.import_module(f"bench.{name}").run()), None
    except Exception as exc:
        figures = exc.figures if isinstance(exc, BenchError) else []
        return figures, _describe(exc, BenchError)


def _describe(exc: BaseException, expected: type) -> str:
    """Return an expected failure's message, or a full traceback for an unexpected one."""
    root = exc
    while isinstance(root, expected) and root.__cause__ is not None:
        root = root.__cause__
    if isinstance(root, expected):
        return str(exc)
    return "".join(traceback.format_exception(exc))


def _fmt(value: float | None) -> str:
    """Format a number for the table."""
    return "-" if value is None else f"{value:,.2f}"


def table(entries: list[dict]) -> str:
    """Return the figures as a plain-text table."""
    head = ("figure", "value", "unit", "better", "baseline", "ratio", "target")
    rows = [head]
    for e in entries:
        base = e["baseline"]
        target = "-"
        if e["target"]:
            target = f"{e['target']}: {'met' if e['target_met'] else 'NOT MET'}"
        rows.append((
            e["name"], _fmt(e["value"]), e["unit"], e["better"],
            f"{base['name']} {_fmt(base['value'])}" if base else "-", _fmt(e["ratio"]), target,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def kept_figures(modules: list[str], names: set[str]) -> list[dict]:
    """Figures of results.json that the named modules did not measure this time."""
    try:
        previous = json.loads(RESULTS.read_text()).get("figures", [])
    except (OSError, ValueError):
        return []
    return [e for e in previous if e.get("module") not in modules and e["name"] not in names]


def main(argv: list[str]) -> int:
    """Run the benchmarks named in argv (default: all) and return the exit status."""
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))  # `python bench/run.py` puts only bench/ there
    from bench._figures import BenchError
    from bench._wrk import bench_seconds

    try:
        seconds = bench_seconds()
    except BenchError as exc:
        sys.exit(str(exc))
    entries, failures = [], {}
    modules = discover(argv)
    for name in modules:
        got, error = run_module(name)
        entries += [{**f.to_json(), "module": name} for f in got]
        if error:
            failures[name] = error
            print(f"\nFAILED: {name}\n{error}", file=sys.stderr, flush=True)
    if argv:  # a partial run replaces its own modules' figures and keeps the others'
        entries = kept_figures(modules, {e["name"] for e in entries}) + entries
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "bench_seconds": seconds,
        "failed": sorted(failures),
        "figures": entries,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(entries))
    print(f"\nwrote {RESULTS}")
    if failures:
        print(f"FAILED bench modules: {', '.join(sorted(failures))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
