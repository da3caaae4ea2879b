"""Device endpoints of /api/v1."""

from controller.api import endpoint, page_out
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.devices import queries, service
from controller.devices.schemas import DeviceCreate, DeviceOut, DeviceQuery, DeviceUpdate
from controller.schemas import Page

_TAG = "devices"


@endpoint("/devices", summary="List devices", tag=_TAG, perm=Perm.INVENTORY_READ,
          query=DeviceQuery, response=Page[DeviceOut], errors=(422,))  # fmt: skip
def list_devices(user, query: DeviceQuery):
    """Devices the caller may see, filtered by office, kind, state, tag or text."""
    return page_out(queries.list_devices(user, query), DeviceOut)


@endpoint("/devices", "POST", summary="Create a device", tag=_TAG, perm=Perm.DEVICES_WRITE,
          body=DeviceCreate, response=DeviceOut, status=201, errors=(409, 422))  # fmt: skip
def create_device(user, body: DeviceCreate):
    """Add a device to one of the caller's offices."""
    return DeviceOut.model_validate(service.create_device(api_actor(user), body))


@endpoint("/devices/<id:device_id>", summary="Show a device", tag=_TAG,
          perm=Perm.INVENTORY_READ, response=DeviceOut, errors=(404,))  # fmt: skip
def get_device(user, device_id: int):
    """One device."""
    return DeviceOut.model_validate(service.get_device(user, device_id))


@endpoint("/devices/<id:device_id>", "PATCH", summary="Change a device", tag=_TAG,
          perm=Perm.DEVICES_WRITE, body=DeviceUpdate, response=DeviceOut,
          errors=(404, 409, 422))  # fmt: skip
def update_device(user, device_id: int, body: DeviceUpdate):
    """Change the given fields of a device."""
    device = service.get_device(user, device_id)
    return DeviceOut.model_validate(service.update_device(api_actor(user), device, body))


@endpoint("/devices/<id:device_id>", "DELETE", summary="Delete a device", tag=_TAG,
          perm=Perm.DEVICES_WRITE, status=204, errors=(404,))  # fmt: skip
def delete_device(user, device_id: int):
    """Remove a device."""
    service.delete_device(api_actor(user), service.get_device(user, device_id))
