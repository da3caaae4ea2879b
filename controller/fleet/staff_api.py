"""Enrolment tokens and device commands through the staff API (/api/v1)."""

from controller.api import endpoint
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.devices import service as devices
from controller.devices.schemas import DeviceDetail
from controller.fleet import commands, enrollment
from controller.fleet.schemas import (
    Batch,
    BulkCommand,
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


@endpoint("/commands", "POST", summary="Send a command to many devices", tag="devices",
          perm=Perm.COMMANDS_RUN, body=BulkCommand, response=Batch, status=201,
          errors=(422,))  # fmt: skip
def queue_bulk(user, body: BulkCommand):
    """One command for listed devices and/or all devices of an office or kind (with agents)."""
    batch = commands.queue_many(api_actor(user), body.target, body.command)
    return _batch(user, batch)


@endpoint("/command-batches/<batch>", summary="Show the progress of a batch", tag="devices",
          perm=Perm.INVENTORY_READ, response=Batch, errors=(404,))  # fmt: skip
def show_batch(user, batch: str):
    """Where each command of a batch is."""
    return _batch(user, batch)


def _batch(user, batch: str) -> Batch:
    found = commands.batch_commands(user, batch)
    items = [CommandOut.model_validate(c) for c in found]
    return Batch(batch=batch, counts=commands.counts(found), items=items)


@endpoint("/devices/<id:device_id>/approve", "POST", summary="Approve an enrolled device",
          tag="devices", perm=Perm.DEVICES_WRITE, response=DeviceDetail, errors=(404,))  # fmt: skip
def approve_device(user, device_id: int):
    """Let a device that enrolled in an office requiring approval take part."""
    device = enrollment.approve(api_actor(user), devices.get_device(user, device_id))
    return DeviceDetail.model_validate(device)
