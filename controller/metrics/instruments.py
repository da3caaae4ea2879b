"""Counters and histograms of the web tier, and the request hooks that feed them.

They live at module level in prometheus-client's default registry. Under gunicorn
`telecentre run` sets PROMETHEUS_MULTIPROC_DIR before the workers start
(controller/metrics/serving.py), so each worker writes its values to its own file there and
/metrics sums them. Labels are endpoint names, methods, status codes, results and office ids:
never anything about a visitor or an address.
"""

import time
from collections.abc import Callable

from flask import Flask, g, request
from prometheus_client import Counter, Histogram

_START = "telecentre.metrics.start"  # kept in the WSGI environ: tests may clear flask.g
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "telecentre_http_requests", "Staff-side HTTP requests (pages, API, /metrics) answered.",
    ["endpoint", "method", "status"],
)  # fmt: skip
HTTP_DURATION = Histogram(
    "telecentre_http_request_duration_seconds", "Time to answer a staff-side HTTP request.",
    ["endpoint", "method"], buckets=BUCKETS,
)  # fmt: skip
AGENT_REQUESTS = Counter(
    "telecentre_agent_api_requests", "Signed agent and gateway API calls answered.",
    ["endpoint", "status"],
)  # fmt: skip
AGENT_DURATION = Histogram(
    "telecentre_agent_api_request_duration_seconds", "Time to answer an agent or gateway call.",
    ["endpoint"], buckets=BUCKETS,
)  # fmt: skip
LOGINS = Counter("telecentre_logins", "Staff sign-in attempts by result.", ["result"])
PORTAL_LOGINS = Counter(
    "telecentre_portal_logins",
    "Visitor logins the gateways asked for, by office and result (granted or refused).",
    ["office_id", "result"],
)  # fmt: skip


def _start() -> None:
    request.environ[_START] = time.perf_counter()


def _elapsed() -> float:
    return time.perf_counter() - request.environ.get(_START, time.perf_counter())


def _endpoint() -> str:
    return request.endpoint or "unmatched"  # 404s share one label, whatever the path


def _staff_done(response):
    endpoint, method = _endpoint(), request.method
    HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    HTTP_DURATION.labels(endpoint, method).observe(_elapsed())
    if endpoint == "auth.login" and method == "POST":
        LOGINS.labels(_login_result(response.status_code)).inc()
    return response


def _login_result(status: int) -> str:
    if status == 302:
        return "success"
    if status == 429:
        return "rate_limited"
    if status == 400:
        return "invalid"  # an expired form (CSRF) or a malformed request
    return "failure"


def devices_answered(endpoint: str, status: int) -> Callable[[float], None]:
    """A function that counts and times one device call answered by endpoint with status
    (the heartbeat lane, outside Flask, keeps one)."""
    count, duration = AGENT_REQUESTS.labels(endpoint, str(status)), AGENT_DURATION.labels(endpoint)

    def done(seconds: float) -> None:
        count.inc()
        duration.observe(seconds)

    return done


def _devices_done(response):
    endpoint = _endpoint()
    devices_answered(endpoint, response.status_code)(_elapsed())
    device = g.get("agent_device")
    if endpoint == "portal_api.start_session" and device is not None:
        # A bad request or a failure is neither: AGENT_REQUESTS counts those by status.
        result = "granted" if response.status_code == 200 else (
            "refused" if g.get("portal_refused") else None)  # fmt: skip
        if result is not None:
            PORTAL_LOGINS.labels(str(device.office_id), result).inc()
    return response


def instrument_staff(app: Flask) -> None:
    """Count and time every request of the staff app, and sign-ins by result."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_staff_done)


def instrument_devices(app: Flask) -> None:
    """Count and time every signed device call, and visitor logins per office."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_devices_done)
