from tests.conftest import bearer, make_device, make_office, make_token, make_user


def test_api_lists_devices(client):
    office = make_office()
    make_device(office, name="PC-A")
    token = make_token(make_user("viewer"))
    response = client.get("/api/v1/devices", headers=bearer(token))
    assert response.status_code == 200
    assert [d["name"] for d in response.json["items"]] == ["PC-A"]
