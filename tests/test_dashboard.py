"""optuna-dashboard on a sweep's storage: the real server reads the studies, their trials, the objective's name and
what each study is."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from harness.stores.keys import study_names
from harness.sweep.setup import describe_studies
from harness.sweep.studies import make_storage, open_studies
from tests.conftest import tiny_experiment
from tests.services import free_port, service_env, stop_group


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_for_api(url: str, process: subprocess.Popen, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"optuna-dashboard exited with {process.returncode}")
        try:
            return get_json(url)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"optuna-dashboard did not answer {url}")


def test_the_dashboard_shows_a_sweeps_trials_under_the_objectives_name(tmp_path: Path) -> None:
    exp = tiny_experiment(data={"name": "ring8"}, variants=["wgan_gp"])
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    studies = open_studies(exp, make_storage(url, exp), "wgan_gp")
    describe_studies(studies)
    describe_studies(studies)  # a resumed sweep: the note stays one note
    for value in (0.5, 0.25):
        studies.search.add_trial(optuna.trial.create_trial(value=value))
    port = free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    process = subprocess.Popen([str(dashboard), url, "--host", "127.0.0.1", "--port", str(port)], env=service_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        summaries = wait_for_api(f"{base}/api/studies", process)["study_summaries"]
        by_name = {s["study_name"]: s["study_id"] for s in summaries}
        assert set(by_name) == set(study_names("tiny", "wgan_gp"))
        detail = get_json(f"{base}/api/studies/{by_name['tiny/wgan_gp']}")
        confirm = get_json(f"{base}/api/studies/{by_name[study_names('tiny', 'wgan_gp')[1]]}")
    finally:
        stop_group(process)
    # The confirmation study says what it is: in its name, its user attributes and the note atop its page.
    assert "confirmation (same params, different seeds)" in study_names("tiny", "wgan_gp")[1]
    about = {a["key"]: a["value"] for a in confirm["user_attrs"]}["about"]
    assert about.startswith("confirmation (same params, different seeds)") and "importances" in about
    assert confirm["note"]["body"].startswith("## Confirmation (same params, different seeds)")
    assert confirm["note"]["version"] == 1
    assert detail["objective_names"] == ["w1"]  # set_metric_names: the dashboard labels the axis "w1"
    assert [t["values"] for t in detail["trials"]] == [[0.5], [0.25]]
    assert detail["best_trials"][0]["values"] == [0.25]


@pytest.mark.parametrize("reopen", [False, True])
def test_studies_carry_the_objective_name(tmp_path: Path, reopen: bool) -> None:
    exp = tiny_experiment(data={"name": "ring8"}, variants=["wgan_gp"])
    storage = make_storage(f"sqlite:///{tmp_path / 'o.db'}", exp)
    studies = open_studies(exp, storage, "wgan_gp")
    if reopen:
        studies = open_studies(exp, storage, "wgan_gp")
    assert studies.search.metric_names == ["w1"] and studies.confirm.metric_names == ["w1"]
