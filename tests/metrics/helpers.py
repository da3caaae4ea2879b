"""Helpers of the metrics tests: reading an exposition back into samples."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[str, list[tuple[dict, float]]]:
    """Every sample of an exposition by sample name: [(labels, value), …]."""
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(found: dict, name: str, **labels) -> float | None:
    """The value of the one sample of name whose labels include labels (None: no such)."""
    matches = [v for got, v in found.get(name, []) if labels.items() <= got.items()]
    assert len(matches) <= 1, f"{name}{labels} matches {len(matches)} samples"
    return matches[0] if matches else None


def total(found: dict, name: str, **labels) -> float:
    """The sum of every sample of name whose labels include labels."""
    return sum(v for got, v in found.get(name, []) if labels.items() <= got.items())
