"""The agents' HTTP client for the controller: signed requests, verified answers, timeouts.

Standard library only (urllib). Secrets travel in headers and bodies, never in URLs.
"""

import json
import urllib.error
import urllib.request
from collections import namedtuple

from agents.common import signing

USER_AGENT = "telecentre-agent"
# Agents log in English (journald, support); the controller answers in the language asked.
BASE_HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": USER_AGENT,
    "Accept-Language": "en",
}


class ControllerError(Exception):
    """The controller could not be reached or did not answer as the controller."""


class Unreachable(ControllerError):
    """No answer, a timeout, or a server error: try again later (the spool keeps the data)."""


class NotController(ControllerError):
    """Something answered that is not our controller (a captive portal, a wrong server)."""


class Rejected(ControllerError):
    """The controller refused the request (4xx); retrying the same request will not help."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.code = code  # the error envelope's machine-readable code, when it has one


class Identity(namedtuple("Identity", "controller_url controller_id device_id secret")):
    """What an enrolled agent knows about itself and its controller (read-only).

    A named tuple, not a dataclass: dataclasses import inspect, a megabyte of the agent's
    memory budget.
    """

    __slots__ = ()


def _open(request: urllib.request.Request, timeout: float) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read(2_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read(2_000_000)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Unreachable(str(getattr(exc, "reason", exc))) from exc


def _decode(status: int, body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise NotController(f"answer {status} is not JSON") from None
    if not isinstance(data, dict):
        raise NotController(f"answer {status} is not a JSON object")
    return data


def _check(status: int, data: dict) -> dict:
    if status >= 500:
        raise Unreachable(f"controller answered {status}")
    if status >= 400:
        error = data.get("error", {}) if isinstance(data.get("error"), dict) else {}
        raise Rejected(status, str(error.get("message", "refused")), str(error.get("code", "")))
    return data


def enroll(url: str, token: str, facts: dict, timeout: float = 15.0) -> Identity:
    """Exchange a one-time office enrolment token for this device's id and secret."""
    base = url.rstrip("/")
    body = json.dumps({"token": token, **facts}).encode()
    request = urllib.request.Request(  # noqa: S310 - the controller's URL is configuration
        base + "/api/agent/v1/enroll", data=body, method="POST",
        headers=BASE_HEADERS,
    )  # fmt: skip
    status, headers, raw = _open(request, timeout)
    controller_id = _header(headers, signing.CONTROLLER)
    if not controller_id:
        raise NotController(f"{base} did not answer as a Telecentre controller ({status})")
    data = _check(status, _decode(status, raw))
    try:
        return Identity(base, controller_id, int(data["device_id"]), str(data["secret"]))
    except (KeyError, TypeError, ValueError):
        raise NotController("the enrolment answer lacks device_id or secret") from None


def _header(headers: dict, name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


class Client:
    """Signed calls of an enrolled agent to its controller."""

    def __init__(self, identity: Identity, timeout: float = 15.0) -> None:
        self.identity = identity
        self.timeout = timeout

    def post(self, path: str, payload: dict) -> dict:
        """POST a JSON body, signed; return the verified JSON answer."""
        return self.post_bytes(path, json.dumps(payload, separators=(",", ":")).encode())

    def post_bytes(self, path: str, body: bytes, content_type: str = "application/json") -> dict:
        """POST a body of any type, signed; return the verified JSON answer."""
        me = self.identity
        headers = signing.sign_request(me.secret, me.device_id, "POST", path, body)
        headers.update(BASE_HEADERS)
        headers["Content-Type"] = content_type
        request = urllib.request.Request(  # noqa: S310 - the controller's URL is configuration
            me.controller_url + path, data=body, method="POST", headers=headers
        )
        status, answer_headers, raw = _open(request, self.timeout)
        if _header(answer_headers, signing.CONTROLLER) != me.controller_id:
            raise NotController(
                f"{me.controller_url} answered {status} without our controller's id"
            )
        expected = signing.answer_signature(me.secret, headers[signing.NONCE], status, raw)
        signed = signing.same(expected, _header(answer_headers, signing.SIGNATURE))
        if not signed and status < 400:
            # Only refusals may come unsigned (the controller cannot sign for a device it
            # does not know); anything accepted must prove it came from the controller.
            raise NotController(f"answer {status} is not signed by the controller")
        return _check(status, _decode(status, raw))
