"""The Figure record every bench module returns, and the error that carries partial results."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Figure:
    """One measured number, optionally compared with a baseline measured in the same run."""

    name: str
    value: float
    unit: str
    better: str  # "higher" or "lower"
    baseline_name: str | None = None
    baseline_value: float | None = None
    target: str | None = None  # human-readable target, e.g. "ratio >= 0.5"
    target_met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """Value divided by the baseline value, or None without a usable baseline."""
        if self.baseline_value is None or self.baseline_value == 0:
            return None
        return self.value / self.baseline_value

    def to_json(self) -> dict[str, Any]:
        """Return the results.json entry for this figure."""
        entry = asdict(self)
        del entry["baseline_name"], entry["baseline_value"]
        entry["value"] = float(self.value)
        entry["baseline"] = None
        if self.baseline_name is not None and self.baseline_value is not None:
            entry["baseline"] = {"name": self.baseline_name, "value": float(self.baseline_value)}
        entry["ratio"] = self.ratio
        return entry


class BenchError(Exception):
    """A bench module failed part-way; `figures` holds what it measured before failing."""

    def __init__(self, message: str, figures: list[Figure] | None = None):
        super().__init__(message)
        self.figures = figures or []
