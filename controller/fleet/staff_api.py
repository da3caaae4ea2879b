"""Enrolment tokens through the staff API (/api/v1), for IT admins of the office."""

from controller.api import endpoint
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.fleet import enrollment
from controller.fleet.schemas import TokenCreate, TokenCreated
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
