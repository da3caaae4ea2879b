"""Bar charts drawn on the server as SVG geometry (the template writes the elements)."""

from dataclasses import dataclass

WIDTH, BAR_GAP = 640, 4


@dataclass
class Bar:
    """One bar: its label, value, and box in the chart's coordinates."""

    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass
class Chart:
    """A titled bar chart; vertical bars for a trend, horizontal for a comparison."""

    title: str
    bars: list[Bar]
    width: int
    height: int
    horizontal: bool


def _scale(values: list[float]) -> float:
    top = max(values, default=0)
    return top if top > 0 else 1.0


def trend(title: str, points: list[tuple[str, float]], height: int = 220) -> Chart:
    """Vertical bars, one per month, under a 20 px label strip."""
    top, plot = _scale([v for _l, v in points]), height - 40
    step = (WIDTH - 20) / max(len(points), 1)
    bars = [Bar(label, value, 10 + i * step + BAR_GAP / 2, 20 + plot - plot * value / top,
                max(step - BAR_GAP, 1), plot * value / top)
            for i, (label, value) in enumerate(points)]  # fmt: skip
    return Chart(title, bars, WIDTH, height, False)


def comparison(title: str, points: list[tuple[str, float]], row: int = 22) -> Chart:
    """Horizontal bars, one per office, right of a 220 px label column."""
    top, plot = _scale([v for _l, v in points]), WIDTH - 300
    bars = [Bar(label, value, 220, 6 + i * row, plot * value / top, row - BAR_GAP)
            for i, (label, value) in enumerate(points)]  # fmt: skip
    return Chart(title, bars, WIDTH, 12 + row * max(len(points), 1), True)
