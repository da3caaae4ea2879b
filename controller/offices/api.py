"""Office endpoints of /api/v1."""

from controller.api.resource import Resource, expose
from controller.auth.roles import Perm
from controller.offices import service
from controller.offices.schemas import OfficeCreate, OfficeOut, OfficeQuery, OfficeUpdate

expose(
    Resource(
        plural="offices",
        singular="office",
        names=("offices", "an office"),
        out=OfficeOut,
        query=OfficeQuery,
        create=OfficeCreate,
        update=OfficeUpdate,
        read=Perm.INVENTORY_READ,
        write=Perm.OFFICES_WRITE,
        list=service.list_offices,
        get=service.get_office,
        add=service.create_office,
        change=service.update_office,
        remove=service.delete_office,
    )
)
