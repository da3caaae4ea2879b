"""Portal policies, voucher batches and visitor sessions through the staff API (/api/v1)."""

from controller.api import endpoint, page_out
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.offices import service as offices
from controller.portal import monitor, policies, vouchers
from controller.portal.schemas import (
    BatchCreate,
    BatchCreated,
    BatchDetail,
    BatchOut,
    BatchQuery,
    PolicyIn,
    PolicyList,
    PolicyOut,
    SessionOut,
    SessionQuery,
)
from controller.schemas import Page


@endpoint("/portal/policies", summary="List portal policies", tag="portal",
          perm=Perm.INVENTORY_READ, response=PolicyList)  # fmt: skip
def list_portal_policies(user):
    """The county default and the offices' own policies."""
    return PolicyList(default=policies.out(policies.default()),
                      overrides=[policies.out(p) for p in policies.overrides(user)])  # fmt: skip


@endpoint("/portal/policies/default", "PUT", summary="Replace the county default policy",
          tag="portal", perm=Perm.PORTAL_MANAGE, body=PolicyIn, response=PolicyOut,
          errors=(403, 422))  # fmt: skip
def update_default_portal_policy(user, body: PolicyIn):
    """The policy of every office without its own (county-wide staff only)."""
    return policies.out(policies.save(api_actor(user), None, body))


@endpoint("/offices/<id:office_id>/portal-policy", summary="Show an office's portal policy",
          tag="portal", perm=Perm.INVENTORY_READ, response=PolicyOut, errors=(404,))  # fmt: skip
def get_office_portal_policy(user, office_id: int):
    """The effective policy: the office's own, or the county default (office_id null)."""
    office = offices.get_office(user, office_id)
    return policies.out(policies.effective(office.id))


@endpoint("/offices/<id:office_id>/portal-policy", "PUT", summary="Set an office's own policy",
          tag="portal", perm=Perm.PORTAL_MANAGE, body=PolicyIn, response=PolicyOut,
          errors=(404, 422))  # fmt: skip
def update_office_portal_policy(user, office_id: int, body: PolicyIn):
    """Replace every field of the office's own policy (made if missing)."""
    office = offices.get_office(user, office_id)
    return policies.out(policies.save(api_actor(user), office, body))


@endpoint("/offices/<id:office_id>/portal-policy", "DELETE", summary="Drop an office's policy",
          tag="portal", perm=Perm.PORTAL_MANAGE, status=204, errors=(404,))  # fmt: skip
def delete_office_portal_policy(user, office_id: int):
    """The county default applies to the office again."""
    policies.remove(api_actor(user), offices.get_office(user, office_id))


@endpoint("/voucher-batches", summary="List voucher batches", tag="portal",
          perm=Perm.INVENTORY_READ, query=BatchQuery, response=Page[BatchOut],
          errors=(422,))  # fmt: skip
def list_voucher_batches(user, query: BatchQuery):
    """Batches of the caller's offices, newest first."""
    return page_out(vouchers.list_batches(user, query), BatchOut)


@endpoint("/voucher-batches", "POST", summary="Create a batch of vouchers", tag="portal",
          perm=Perm.PORTAL_MANAGE, body=BatchCreate, response=BatchCreated, status=201,
          errors=(404, 422))  # fmt: skip
def create_voucher_batch(user, body: BatchCreate):
    """Make vouchers; the answer holds the only copy of their codes."""
    office = offices.get_office(user, body.office_id)
    key = vouchers.current_key()
    batch, codes = vouchers.create_batch(api_actor(user), office, body, key)
    return BatchCreated(**BatchOut.model_validate(batch).model_dump(), codes=codes)


@endpoint("/voucher-batches/<id:batch_id>", summary="Show a voucher batch and its use",
          tag="portal", perm=Perm.INVENTORY_READ, response=BatchDetail, errors=(404,))  # fmt: skip
def get_voucher_batch(user, batch_id: int):
    """The batch and the use of each voucher (sessions, devices, time, data)."""
    batch = vouchers.get_batch(user, batch_id)
    return BatchDetail(**BatchOut.model_validate(batch).model_dump(),
                       vouchers=vouchers.batch_vouchers(batch))  # fmt: skip


@endpoint("/voucher-batches/<id:batch_id>/revoke", "POST", summary="Revoke a voucher batch",
          tag="portal", perm=Perm.PORTAL_MANAGE, response=BatchOut, errors=(404, 409))  # fmt: skip
def revoke_voucher_batch(user, batch_id: int):
    """No voucher of the batch can start a session any more."""
    batch = vouchers.revoke_batch(api_actor(user), vouchers.get_batch(user, batch_id))
    return BatchOut.model_validate(batch)


@endpoint("/portal/sessions", summary="List visitor sessions", tag="portal",
          perm=Perm.INVENTORY_READ, query=SessionQuery, response=Page[SessionOut],
          errors=(422,))  # fmt: skip
def list_portal_sessions(user, query: SessionQuery):
    """Live (live=true) or past sessions of the caller's offices, newest first."""
    return page_out(monitor.list_sessions(user, query), SessionOut)


@endpoint("/portal/sessions/<id:session_id>/end", "POST", summary="End a visitor session",
          tag="portal", perm=Perm.PORTAL_MANAGE, response=SessionOut,
          errors=(404, 409))  # fmt: skip
def end_portal_session(user, session_id: int):
    """Ask the gateway to end the session now (an end_session command)."""
    session = monitor.get_session(user, session_id)
    return SessionOut.model_validate(monitor.end_by_hand(api_actor(user), session))
