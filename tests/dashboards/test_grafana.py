"""dashboards/grafana: dashboards that take their data source from a variable, and provisioning."""

import json

import pytest
import yaml

from tests.dashboards.conftest import DASHBOARDS, names_in, unknown

GRAFANA = DASHBOARDS / "grafana"
FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
VARIABLE = {"type": "prometheus", "uid": "${datasource}"}


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def expressions(board: dict) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and query variables."""
    out = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    out += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return out


def test_the_three_dashboards_are_there():
    titles = {_load(path)["title"] for path in FILES}
    assert titles == {"Telecentre: fleet health", "Telecentre: hotspot usage",
                      "Telecentre: project indicators"}  # fmt: skip
    assert len({_load(path)["uid"] for path in FILES}) == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_data_source_is_a_variable(path):
    board = _load(path)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["datasource"] == VARIABLE, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"] == VARIABLE for t in panel["targets"]), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == VARIABLE
    assert "telecentre-prometheus" not in path.read_text()  # no provisioned uid baked in


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_panels_fit_the_grid_without_overlapping(path):
    taken = set()
    for panel in _load(path)["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboards_use_only_metrics_that_exist(path, exposed):
    used = set().union(*(names_in(expr) for expr in expressions(_load(path))))
    assert used and unknown(used, exposed) == set()


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards():
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/telecentre.yml").read_text())
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    boards = yaml.safe_load((GRAFANA / "provisioning/dashboards/telecentre.yml").read_text())
    (provider,) = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
