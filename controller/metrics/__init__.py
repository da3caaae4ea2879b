"""Prometheus metrics: /metrics, the fleet collector and the web tier's counters."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Serve /metrics on the staff app and count the requests of both apps."""
    from prometheus_client import disable_created_metrics

    from controller.metrics.instruments import instrument_devices, instrument_staff
    from controller.metrics.views import ALLOWED, allow_list, bp

    try:
        app.extensions[ALLOWED] = allow_list(app.config.get("METRICS_ALLOW"))
    except ValueError as exc:
        raise RuntimeError(f"METRICS_ALLOW holds an invalid network: {exc}") from None
    disable_created_metrics()  # *_created series would double the counters' series
    app.register_blueprint(bp)
    instrument_staff(app)
    instrument_devices(app.extensions["devices_app"])
