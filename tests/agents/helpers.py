"""Helpers of the agent API tests: tokens, enrolment, signed requests, heartbeat records."""

import json
import time

from agents.common import signing
from controller.audit.service import Actor
from controller.fleet.enrollment import create_token
from controller.fleet.schemas import TokenCreate

HEARTBEAT = "/api/agent/v1/heartbeat"


def office_token(office, **kw) -> str:
    """A new enrolment token of office (the secret)."""
    _row, secret = create_token(Actor(None, "cli"), office, TokenCreate(**kw))
    return secret


def enroll_agent(client, token, **about):
    """Enrol through the API as a PC agent would; returns the answer."""
    body = {"token": token, "hostname": "pc01.cycow.example.pl", "kind": "pc", **about}
    return client.post("/api/agent/v1/enroll", json=body)


def signed_post(client, device_id, secret, payload, *, now=None, headers=None, path=HEARTBEAT):
    """POST payload as JSON, signed as the device."""
    body = json.dumps(payload).encode()
    signed = signing.sign_request(secret, device_id, "POST", path, body, now=now)
    signed.update({"Content-Type": "application/json", "Accept-Language": "en", **(headers or {})})
    return client.post(path, data=body, headers=signed)


def heartbeat_record(seq, **extra):
    """One spooled heartbeat record."""
    return {"seq": seq, "kind": "heartbeat", "body": {"sent_at": time.time(), **extra}}
