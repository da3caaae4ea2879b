"""The grant computation: pure, no database."""

from datetime import UTC, datetime

import pytest

from controller.portal.policy import (
    Allowance,
    Limits,
    Refused,
    Used,
    compute_grant,
    day_bounds,
    seconds_to_closing,
    used_seconds,
)

# Monday 2026-11-23, 10:00 in Warsaw (UTC+1)
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOURS = [{"weekday": 0, "opens": "08:00", "closes": "16:00"}]


def test_the_session_length_bounds_a_fresh_visitor():
    grant = compute_grant(Limits(3600, 7200), Used(), MONDAY_10)
    assert grant.seconds == 3600 and grant.bytes is None


def test_daily_time_left_bounds_the_grant():
    assert compute_grant(Limits(3600, 7200), Used(seconds=6000), MONDAY_10).seconds == 1200


def test_voucher_time_left_bounds_the_grant():
    grant = compute_grant(Limits(3600, 7200), Used(), MONDAY_10, Allowance(600, 5_000))
    assert (grant.seconds, grant.bytes) == (600, 5_000)


def test_closing_time_bounds_the_grant():
    limits = Limits(3600 * 8, 3600 * 10, opening_hours=HOURS)
    assert compute_grant(limits, Used(), MONDAY_10).seconds == 6 * 3600


def test_bytes_are_the_least_of_session_daily_and_voucher():
    limits = Limits(3600, 7200, session_bytes=500, daily_bytes=1000)
    assert compute_grant(limits, Used(bytes=700), MONDAY_10).bytes == 300
    assert compute_grant(limits, Used(), MONDAY_10, Allowance(60, 100)).bytes == 100
    assert compute_grant(limits, Used(), MONDAY_10, Allowance(60, None)).bytes == 500


@pytest.mark.parametrize(
    ("limits", "used", "voucher", "code"),
    [
        (Limits(3600, 7200), Used(seconds=7200), None, "daily_quota_reached"),
        (Limits(3600, 7200, daily_bytes=10), Used(bytes=10), None, "daily_quota_reached"),
        (Limits(3600, 7200), Used(), Allowance(0, None), "voucher_used_up"),
        (Limits(3600, 7200), Used(), Allowance(60, 0), "voucher_used_up"),
        (Limits(3600, 7200, opening_hours=[]), Used(), None, "outside_opening_hours"),
        (Limits(3600, 7200, opening_hours=[{"weekday": 1, "opens": "08:00", "closes": "16:00"}]),
         Used(), None, "outside_opening_hours"),
    ],
)  # fmt: skip
def test_refusals(limits, used, voucher, code):
    with pytest.raises(Refused) as caught:
        compute_grant(limits, used, MONDAY_10, voucher)
    assert caught.value.code == code


def test_opening_hours_are_local_time():
    assert seconds_to_closing(None, MONDAY_10, "Europe/Warsaw") is None
    # 07:30 UTC is 08:30 in Warsaw: open; 15:00 UTC is 16:00: closed
    assert seconds_to_closing(HOURS, MONDAY_10.replace(hour=7, minute=30), "Europe/Warsaw") > 0
    assert seconds_to_closing(HOURS, MONDAY_10.replace(hour=15), "Europe/Warsaw") == 0


def test_open_all_day_closes_at_midnight_on_both_sides():
    from agents.gateway.policy import Refusal, _closing

    all_day = [{"weekday": 0, "opens": "00:00", "closes": "24:00"}]
    # Monday 23:30 in Warsaw: half an hour to closing, by the controller and by the gateway
    late = MONDAY_10.replace(hour=22, minute=30)
    assert seconds_to_closing(all_day, late, "Europe/Warsaw") == 1800
    policy = {"opening_hours": all_day, "timezone": "Europe/Warsaw"}
    assert (_closing(policy, late) - late).total_seconds() == 1800
    with pytest.raises(Refusal):  # Tuesday has no slot
        _closing(policy, late.replace(hour=23, minute=30))


@pytest.mark.parametrize("line", ["5-1 08:00-16:00", "0 08:00-24:30", "0 08:00-25:00"])
def test_odd_opening_hours_are_refused(line):
    from pydantic import ValidationError

    from controller.portal.schemas import PolicyIn

    with pytest.raises(ValidationError) as caught:
        PolicyIn.model_validate({"opening_hours": line})
    assert any(e["loc"][0] == "opening_hours" for e in caught.value.errors())


def test_the_county_day_starts_at_midnight_in_warsaw():
    start, end = day_bounds(datetime(2026, 7, 1, 22, 30, tzinfo=UTC))  # 00:30 on 2 July, CEST
    assert start == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 86400


def test_used_seconds_counts_live_sessions_up_to_now_and_never_beyond_the_grant():
    start = MONDAY_10
    now = start.replace(hour=10)
    assert used_seconds(start, None, None, now) == 3600
    assert used_seconds(start, None, 600, now) == 600
    assert used_seconds(start, start.replace(minute=20), 3600, now) == 1200
    assert used_seconds(start, None, None, now, since=start.replace(minute=30)) == 1800
