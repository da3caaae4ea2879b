"""Voucher codes, their hashes, and when a voucher is used up."""

import hashlib
import hmac
import uuid
from datetime import timedelta

from sqlalchemy import select

from agents.common.contract import normalise_code as normalise
from agents.common.contract import voucher_hash as code_hash
from controller.extensions import db
from controller.portal.models import PortalSession
from controller.portal.vouchers import ALPHABET, new_code, voucher_key
from tests.conftest import make_office
from tests.portal.helpers import Gateway, batch, pseudonym


def test_codes_are_easy_to_type_and_random():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert set(code.replace("-", "")) <= set(ALPHABET)
    assert not set("0O1lI") & set(ALPHABET) and len(ALPHABET) == 31


def test_normalised_codes_hash_as_the_contract_says():
    assert normalise(" abcde-fghjk ") == "ABCDEFGHJK"
    key = voucher_key("s" * 64)
    assert key == hmac.new(b"s" * 64, b"voucher-key", hashlib.sha256).hexdigest()
    expected = hmac.new(bytes.fromhex(key), b"ABCDEFGHJK", hashlib.sha256).hexdigest()
    assert code_hash(key, "abcde fghjk") == code_hash(key, "ABCDE-FGHJK") == expected
    assert voucher_key("t" * 64) != key


def test_a_multi_use_voucher_serves_until_its_time_is_used(app, client):
    gateway = Gateway(client, make_office())
    _b, codes = batch(app, gateway.office, count=1, minutes=10, multi_use=True)
    first = gateway.start(pseudonym(1), code=codes[0]).json
    assert first["seconds"] == 600
    row = db.session.scalar(select(PortalSession))
    row.started_at -= timedelta(minutes=4)
    db.session.commit()
    gateway.end(first["session_id"])
    second = gateway.start(pseudonym(1), code=codes[0], session_id=str(uuid.uuid4()))
    assert 355 <= second.json["seconds"] <= 360
    for session in db.session.scalars(select(PortalSession)):
        session.started_at -= timedelta(minutes=10)
    db.session.commit()
    third = gateway.start(pseudonym(1), code=codes[0])
    assert third.status_code == 403 and third.json["error"]["code"] == "voucher_used_up"


def test_a_data_allowance_is_used_up_too(app, client):
    gateway = Gateway(client, make_office())
    _b, codes = batch(app, gateway.office, count=1, megabytes=1, multi_use=True)
    sid = gateway.start(pseudonym(2), code=codes[0]).json["session_id"]
    gateway.end(sid, bytes_down=1_000_000)
    refused = gateway.start(pseudonym(2), code=codes[0])
    assert refused.json["error"]["code"] == "voucher_used_up"
