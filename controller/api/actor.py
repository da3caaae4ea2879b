"""The acting user of an API request, for the audit log."""

from controller.audit.service import Actor


def api_actor(user) -> Actor:
    """Actor for an API call made with the user's token."""
    return Actor.for_request(user, "api")
