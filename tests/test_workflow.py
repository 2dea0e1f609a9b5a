"""The hosted CI workflow (.github/workflows/ci.yml) says what the README badge promises."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _workflow():
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _triggers(workflow):
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True
    return workflow.get("on", workflow.get(True))


def _steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_runs_on_push_and_pull_request():
    triggers = _triggers(_workflow())
    assert {"push", "pull_request"} <= set(triggers)


def test_one_ubuntu_job_with_a_timeout():
    jobs = _workflow()["jobs"]
    assert len(jobs) == 1
    job = next(iter(jobs.values()))
    assert job["runs-on"] == "ubuntu-latest"
    assert 0 < job["timeout-minutes"] <= 90


def test_python_311_with_pip_cache():
    setup = [s for s in _steps(_workflow()) if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert len(setup) == 1
    assert str(setup[0]["with"]["python-version"]) == "3.11"  # a string: YAML's 3.10 would be 3.1
    assert setup[0]["with"]["cache"] == "pip"


def test_a_step_runs_exactly_make_test_and_nothing_is_made_offline():
    steps = _steps(_workflow())
    assert [s["run"].strip() for s in steps if "run" in s] == ["make test"]
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "NST_OFFLINE" not in text and "NST_ASSETS_DIR" not in text


def test_keras_cache_is_keyed_on_the_course_manifests():
    cache = [s for s in _steps(_workflow()) if str(s.get("uses", "")).startswith("actions/cache@")]
    assert len(cache) == 1 and cache[0]["with"]["path"] == "~/.keras"
    assert "hashFiles('data/*.json')" in cache[0]["with"]["key"]


def test_no_secrets_and_read_only_token():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert not re.search(r"secrets\.|GITHUB_TOKEN|github\.token", text)
    assert _workflow()["permissions"] == {"contents": "read"}
