"""The acting user of an API request, for the audit log."""

from flask import request

from controller.audit.service import Actor


def api_actor(user) -> Actor:
    """Actor for an API call made with the user's token."""
    return Actor(user, "api", request.remote_addr or "")
