"""Fixtures of the agent API tests."""

import pytest

from agents.common import signing
from tests.agents.helpers import enroll_agent, office_token
from tests.conftest import make_office


@pytest.fixture
def enrolled(client):
    """A device enrolled through the API: (device id, secret)."""
    office = make_office()
    answer = enroll_agent(client, office_token(office), mac="02:00:00:00:01:01")
    assert answer.status_code == 200, answer.json
    assert answer.headers[signing.CONTROLLER] == client.application.config["CONTROLLER_ID"]
    return answer.json["device_id"], answer.json["secret"]
