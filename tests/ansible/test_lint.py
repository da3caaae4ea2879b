"""ansible-lint on the production profile with nothing skipped, and every playbook's syntax."""

import subprocess

import pytest

from tests.ansible.conftest import ANSIBLE, ansible_env, run

PLAYBOOKS = sorted(p.name for p in ANSIBLE.glob("*.yml"))
# Lint and syntax checks need no devices: the static inventory stands in for the controller.
STATIC = {"ANSIBLE_INVENTORY": str(ANSIBLE / "inventory" / "hosts.yml")}


def test_the_lint_configuration_skips_nothing():
    config = (ANSIBLE / ".ansible-lint").read_text()
    assert "profile: production" in config
    for loosening in ("skip_list", "warn_list", "enable_list: []", "# noqa", "mock_"):
        assert loosening not in config
    for path in ANSIBLE.rglob("*.yml"):
        assert "noqa" not in path.read_text(), path


def test_ansible_lint_passes_on_the_production_profile(tmp_path):
    done = run(["ansible-lint", "--offline", "--nocolor"], ansible_env(tmp_path, **STATIC), 300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Profile 'production' was required, and it passed" in output
    assert "Failed to load" not in output  # a playbook lint could not read is not a pass
    assert "0 failure(s), 0 warning(s)" in output


def test_ansible_lint_would_catch_a_careless_task(tmp_path):
    sloppy = tmp_path / "sloppy"
    (sloppy / "roles").mkdir(parents=True)
    (sloppy / ".ansible-lint").write_text((ANSIBLE / ".ansible-lint").read_text())
    (sloppy / "play.yml").write_text(
        "- hosts: all\n  tasks:\n    - shell: echo hi > /tmp/x\n"
        "    - copy: {src: a, dest: /tmp/a}\n"
    )
    done = subprocess.run(
        ["ansible-lint", "--offline", "--nocolor", "play.yml"], cwd=sloppy,
        env=ansible_env(tmp_path, **STATIC), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0
    for rule in ("fqcn[action-core]", "name[missing]", "risky-file-permissions"):
        assert rule in output, output[-3000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_every_playbook_passes_the_syntax_check(playbook, tmp_path):
    done = run(["ansible-playbook", "--syntax-check", playbook], ansible_env(tmp_path, **STATIC))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"playbook: {playbook}" in done.stdout


def test_site_imports_every_role_playbook():
    site = (ANSIBLE / "site.yml").read_text()
    for playbook in ("controller.yml", "prometheus.yml", "gateway.yml", "endpoint_agent.yml"):
        assert f"import_playbook: {playbook}" in site
