"""Office endpoints of /api/v1."""

from controller.api import endpoint, page_out
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.offices import service
from controller.offices.schemas import OfficeCreate, OfficeOut, OfficeQuery, OfficeUpdate
from controller.schemas import Page

_TAG = "offices"


@endpoint("/offices", summary="List offices", tag=_TAG, perm=Perm.INVENTORY_READ,
          query=OfficeQuery, response=Page[OfficeOut], errors=(422,))  # fmt: skip
def list_offices(user, query: OfficeQuery):
    """Offices the caller may see."""
    return page_out(service.list_offices(user, query), OfficeOut)


@endpoint("/offices", "POST", summary="Create an office", tag=_TAG, perm=Perm.OFFICES_WRITE,
          body=OfficeCreate, response=OfficeOut, status=201, errors=(409, 422))  # fmt: skip
def create_office(user, body: OfficeCreate):
    """Add an office (admins only)."""
    return OfficeOut.model_validate(service.create_office(api_actor(user), body))


@endpoint("/offices/<id:office_id>", summary="Show an office", tag=_TAG,
          perm=Perm.INVENTORY_READ, response=OfficeOut, errors=(404,))  # fmt: skip
def get_office(user, office_id: int):
    """One office."""
    return OfficeOut.model_validate(service.get_office(user, office_id))


@endpoint("/offices/<id:office_id>", "PATCH", summary="Change an office", tag=_TAG,
          perm=Perm.OFFICES_WRITE, body=OfficeUpdate, response=OfficeOut,
          errors=(404, 409, 422))  # fmt: skip
def update_office(user, office_id: int, body: OfficeUpdate):
    """Change the given fields of an office."""
    office = service.get_office(user, office_id)
    return OfficeOut.model_validate(service.update_office(api_actor(user), office, body))


@endpoint("/offices/<id:office_id>", "DELETE", summary="Delete an office", tag=_TAG,
          perm=Perm.OFFICES_WRITE, status=204, errors=(404, 409))  # fmt: skip
def delete_office(user, office_id: int):
    """Remove an office without devices."""
    service.delete_office(api_actor(user), service.get_office(user, office_id))
