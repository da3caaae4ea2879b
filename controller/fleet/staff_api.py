"""Enrolment tokens and device commands through the staff API (/api/v1)."""

from controller.api import endpoint
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.devices import service as devices
from controller.fleet import commands, enrollment
from controller.fleet.schemas import (
    CommandCreate,
    CommandList,
    CommandOut,
    TokenCreate,
    TokenCreated,
)
from controller.offices import service as offices


@endpoint("/offices/<id:office_id>/enrollment-tokens", "POST", summary="Create an enrolment token",
          tag="offices", perm=Perm.DEVICES_WRITE, body=TokenCreate, response=TokenCreated,
          status=201, errors=(404, 422))  # fmt: skip
def create_enrollment_token(user, office_id: int, body: TokenCreate):
    """A one-time (or N-times), expiring token with which agents join the office."""
    office = offices.get_office(user, office_id)
    token, secret = enrollment.create_token(api_actor(user), office, body)
    return TokenCreated(token=secret, office_id=office.id, expires_at=token.expires_at,
                        uses_left=token.uses_left)  # fmt: skip


@endpoint("/devices/<id:device_id>/commands", "POST", summary="Send a command to a device",
          tag="devices", perm=Perm.COMMANDS_RUN, body=CommandCreate, response=CommandOut,
          status=201, errors=(404, 422))  # fmt: skip
def queue_command(user, device_id: int, body: CommandCreate):
    """Queue a command; the agent gets it with its next heartbeat and runs it once."""
    device = devices.get_device(user, device_id)
    return CommandOut.model_validate(commands.queue(api_actor(user), device, body))


@endpoint("/devices/<id:device_id>/commands", summary="List a device's commands", tag="devices",
          perm=Perm.INVENTORY_READ, response=CommandList, errors=(404,))  # fmt: skip
def list_commands(user, device_id: int):
    """The latest 50 commands of the device with their results."""
    device = devices.get_device(user, device_id)
    return CommandList(items=[CommandOut.model_validate(c) for c in commands.history(device)])
