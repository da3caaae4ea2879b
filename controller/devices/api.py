"""Device endpoints of /api/v1."""

from controller.api.resource import Resource, expose
from controller.auth.roles import Perm
from controller.devices import queries, service
from controller.devices.schemas import (
    DeviceCreate,
    DeviceDetail,
    DeviceOut,
    DeviceQuery,
    DeviceUpdate,
)

expose(
    Resource(
        plural="devices",
        singular="device",
        names=("devices", "a device"),
        out=DeviceOut,
        detail=DeviceDetail,
        query=DeviceQuery,
        create=DeviceCreate,
        update=DeviceUpdate,
        read=Perm.INVENTORY_READ,
        write=Perm.DEVICES_WRITE,
        list=queries.list_devices,
        get=service.get_device,
        add=service.create_device,
        change=service.update_device,
        remove=service.delete_device,
    )
)
