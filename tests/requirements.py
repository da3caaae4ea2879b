"""Skipping tests that need a part this machine lacks, unless CI demands every part."""

import os

import pytest

REQUIRE_ALL = os.environ.get("TELECENTRE_REQUIRE_ALL") == "1"


def need(available: bool, reason: str) -> None:
    """Skip with a reason when a part is missing; fail instead under TELECENTRE_REQUIRE_ALL=1."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"TELECENTRE_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)
