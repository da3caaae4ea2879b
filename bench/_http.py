"""A minimal JSON-over-HTTP client on one http.client connection (no third-party deps)."""

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

from bench._figures import BenchError


def _retry_after(value: str | None) -> float:
    """Return the seconds to wait from a Retry-After header (1 s if absent or a date)."""
    try:
        return min(max(float(value or 1), 0.1), 60.0)
    except ValueError:
        return 1.0


class JsonClient:
    """Send JSON requests with a bearer token to one loopback server."""

    def __init__(self, base_url: str, token: str | None = None):
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request (retrying on 429) and return (status, decoded JSON or text)."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for _attempt in range(30):
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read().decode("utf-8", "replace")
            if resp.status != 429:
                break
            time.sleep(_retry_after(resp.headers.get("Retry-After")))
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """Send one request and return its JSON answer, failing on any other status."""
        status, answer = self.request(method, path, body)
        if status != expect:
            raise BenchError(f"{method} {path} answered {status} (expected {expect}): {answer}")
        return answer

    def close(self) -> None:
        """Close the underlying connection."""
        self.conn.close()
