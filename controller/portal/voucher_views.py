"""Voucher pages: batches, a new batch with its ticket sheet (HTML and PDF), revoking."""

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from controller.auth.roles import Perm
from controller.errors import Invalid
from controller.forms import FormState, submit, ui_actor
from controller.offices import service as offices
from controller.portal import sheet, vouchers
from controller.portal.models import VoucherBatch
from controller.portal.schemas import BatchCreate, BatchQuery
from controller.security import requires
from controller.validation import parse_id

bp = Blueprint("vouchers", __name__, url_prefix="/portal/vouchers")
_DEFAULTS = {"count": 10, "minutes": 60, "valid_days": 30}
_MAX_CODES = 500


def check_posted_office() -> None:
    """A posted office_id of another office answers 404, as its URL would."""
    office_id = parse_id(request.form.get("office_id", ""))
    if office_id is not None:
        offices.get_office(current_user, office_id)


def _key() -> str:
    return vouchers.current_key()


@bp.get("/")
@requires(Perm.INVENTORY_READ)
def index():
    """Voucher batches of the user's offices and, for IT admins, the form for a new one."""
    return _index_page(FormState(values=dict(_DEFAULTS)))


def _index_page(form: FormState):
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and 0 < len(page) < 7 else 1
    paged = vouchers.list_batches(current_user, BatchQuery(page=max(1, number)))
    visible = offices.visible_offices(current_user)
    used = vouchers.counts([b.id for b in paged.items])
    return render_template("portal/vouchers.html", paged=paged, form=form, offices=visible,
                           names={o.id: o.name for o in visible}, used=used)  # fmt: skip


@bp.post("/")
@requires(Perm.PORTAL_MANAGE)
def create():
    """Make a batch and show its ticket sheet: the only time the codes can be seen."""

    check_posted_office()

    def save(data: BatchCreate):
        office = offices.get_office(current_user, data.office_id)
        return office, *vouchers.create_batch(ui_actor(), office, data, _key())

    made, state = submit(BatchCreate, save, required=("office_id", "count", "minutes"),
                         flags=("multi_use",), drop_blank=("megabytes", "max_devices"))  # fmt: skip
    if made is None:
        return _index_page(state), state.status
    office, batch, codes = made
    return _sheet(office, batch, codes), 201


def _sheet(office, batch: VoucherBatch, codes: list[str]):
    return render_template("portal/sheet.html", office=office, batch=batch, codes=codes,
                           lines=sheet.describe(batch))  # fmt: skip


@bp.post("/<id:batch_id>/sheet.pdf")
@requires(Perm.PORTAL_MANAGE)
def sheet_pdf(batch_id: int):
    """The ticket sheet as PDF, for codes sent back from the HTML sheet (checked against hashes)."""
    batch = vouchers.get_batch(current_user, batch_id)
    given = [c[:20] for c in request.form.getlist("code")[:_MAX_CODES]]
    codes = vouchers.codes_of_batch(batch, given, _key())
    if not codes or len(codes) != len(given):
        raise Invalid(_("These codes do not belong to this batch."), {"code": _("Unknown code.")})
    office = offices.get_office(current_user, batch.office_id)
    body = sheet.pdf(office.name, batch, codes)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="vouchers-{batch.id}.pdf"',
        "Cache-Control": "no-store"})  # fmt: skip


@bp.get("/<id:batch_id>")
@requires(Perm.INVENTORY_READ)
def detail(batch_id: int):
    """A batch and the use of each of its vouchers."""
    batch = vouchers.get_batch(current_user, batch_id)
    office = offices.get_office(current_user, batch.office_id)
    return render_template("portal/batch.html", batch=batch, office=office,
                           items=vouchers.batch_vouchers(batch))  # fmt: skip


@bp.post("/<id:batch_id>/revoke")
@requires(Perm.PORTAL_MANAGE)
def revoke(batch_id: int):
    """Make every voucher of the batch unusable."""
    batch = vouchers.get_batch(current_user, batch_id)
    if batch.revoked_at is None:
        vouchers.revoke_batch(ui_actor(), batch)
        flash(_("The vouchers of batch #%(n)d can no longer be used.", n=batch.id), "success")
    return redirect(url_for(".detail", batch_id=batch.id))
