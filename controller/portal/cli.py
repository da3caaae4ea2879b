"""`telecentre voucher …`: vouchers from the command line, for automation."""

import click
from flask.cli import with_appcontext
from pydantic import ValidationError


@click.group()
def voucher() -> None:
    """Hotspot vouchers."""


@voucher.command("create")
@click.option("--office", required=True, help="Office name or id.")
@click.option("--count", required=True, type=int, help="How many vouchers.")
@click.option("--minutes", default=60, show_default=True, type=int, help="Time allowance.")
@click.option("--megabytes", default=None, type=int, help="Data allowance (default: none).")
@click.option("--valid-days", default=30, show_default=True, type=int, help="Valid this long.")
@click.option("--multi-use", is_flag=True, help="Usable in several sessions until used up.")
@click.option("--devices", default=None, type=int, help="Devices per voucher (default: policy).")
@with_appcontext
def voucher_create(office, count, minutes, megabytes, valid_days, multi_use, devices) -> None:
    """Create a batch of vouchers and print their codes, one per line (shown only now)."""
    from controller.cli import CLI, _fail, _office_id
    from controller.errors import Invalid
    from controller.extensions import db
    from controller.offices.models import Office
    from controller.portal import vouchers
    from controller.portal.schemas import BatchCreate

    office_id = _office_id(office)
    try:
        data = BatchCreate(office_id=office_id, count=count, minutes=minutes,
                           megabytes=megabytes, valid_days=valid_days, multi_use=multi_use,
                           max_devices=devices)  # fmt: skip
    except ValidationError as exc:
        _fail("no vouchers were created", Invalid.from_pydantic(exc, "").fields)
    key = vouchers.current_key()
    _batch, codes = vouchers.create_batch(CLI, db.session.get(Office, office_id), data, key)
    click.echo("\n".join(codes))
