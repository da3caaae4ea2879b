"""HMAC-SHA256 request and answer signatures shared by the agents and the controller.

Standard library only: the endpoint agent imports this module.

A request is signed over its method, path, timestamp, nonce and the SHA-256 of its body; the
controller signs its answer over the request's nonce, the answer's status and body, so an agent
never takes a captive portal or another server for its controller.
"""

import hashlib
import hmac
import secrets
import time

DEVICE = "X-Telecentre-Device"
TIMESTAMP = "X-Telecentre-Timestamp"
NONCE = "X-Telecentre-Nonce"
SIGNATURE = "X-Telecentre-Signature"
CONTROLLER = "X-Telecentre-Controller"
MAX_SKEW = 300  # seconds a request's timestamp may differ from the controller's clock


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of a body."""
    return hashlib.sha256(body).hexdigest()


def _mac(secret: str, *parts: str) -> str:
    message = "\n".join(parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def request_signature(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """The signature of one request."""
    return _mac(secret, method.upper(), path, timestamp, nonce, body_digest(body))


def sign_request(
    secret: str, device_id: int, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """Headers that authenticate a request of a device."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        DEVICE: str(device_id),
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: request_signature(secret, method, path, timestamp, nonce, body),
    }


def answer_signature(secret: str, nonce: str, status: int, body: bytes) -> str:
    """The controller's signature of its answer to the request that carried nonce."""
    return _mac(secret, "answer", nonce, str(status), body_digest(body))


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode(), given.encode())
