"""README's "Compare the recipes in MLflow", against a real `mlflow server` over a tiny sweep's store.

The README's steps are: search `tags.harness.stage = 'confirm'`, sort ascending by the objective's
`summary/<objective>_mean`, group by the tag `harness.variant`, switch to the chart view. What they rely on is
checked here through the server's REST API, with the rules of MLflow 3's runs table (read in its
JavaScript, mlflow/server/js): the table adds the parent of every run a search finds unless it is sorted by
something other than the start time; Group by a tag puts each run under its tag's value, runs without one
apart ("Additional runs"); a grouped table sorted by a metric orders the groups by their runs' mean of it.
And a run's page: MLflow's `samples` card prints every param above the picture, so the run's description
shows the picture, captioned with the run's identity.

The same steps in headless Chromium: `test_the_readme_steps_in_a_browser` (skipped, loudly, without
selenium and Chromium; benchmarks/mlflow_readme_steps.py takes the screenshots).
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import mlflow_server
from tests.sweep_support import REPO, run_sweep_cli, write_config

pytestmark = pytest.mark.slow
SEEDS = 2
README_FILTER = "tags.harness.stage = 'confirm'"
GROUP_TAG = "harness.variant"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A tiny sweep (two recipes, two search trials and two confirmation seeds each), then `mlflow server`
    over its SQLite store, as the README's `mlflow ui` would serve it."""
    folder = tmp_path_factory.mktemp("ui")
    config = write_config(folder, name="ui", sweep={"trials_per_variant": 2, "seeds": SEEDS})
    done = run_sweep_cli(folder, config)
    assert done.returncode == 0, done.stderr[-3000:]
    with mlflow_server(f"sqlite:///{folder / 'runs' / 'mlflow.db'}", folder / "server") as running:
        yield running


def call(server: Any, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One REST call: POST with a JSON body, or GET."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}/api/2.0/mlflow/{endpoint}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def experiment_id(server: Any) -> str:
    return call(server, "experiments/get-by-name?experiment_name=ui")["experiment"]["experiment_id"]


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics_of(run: dict[str, Any]) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


def table_rows(server: Any, search: str, order_by: str | None = None) -> list[dict[str, Any]]:
    """The runs MLflow 3's runs table shows for a search, in its order: under the default sort (start time)
    it fetches the missing parent of each run found and appends it (`shouldFetchParents`)."""
    body: dict[str, Any] = {"experiment_ids": [experiment_id(server)], "filter": search, "max_results": 1000}
    if order_by:
        body["order_by"] = [order_by]
    runs = call(server, "runs/search", body).get("runs", [])
    if order_by is None or order_by.startswith("attributes.start_time"):
        found = {r["info"]["run_id"] for r in runs}
        parents = {tags_of(r).get("mlflow.parentRunId") for r in runs} - found - {None}
        runs += [call(server, f"runs/get?run_id={parent}")["run"] for parent in sorted(parents)]
    return runs


def grouped(rows: list[dict[str, Any]], tag: str) -> dict[str | None, list[dict[str, Any]]]:
    """Group by a tag as the table does: by its value, in order of first appearance; None: no value."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tags_of(row).get(tag) or None, []).append(row)
    return groups


def parents(server: Any) -> dict[str, dict[str, Any]]:
    """The recipes' parent runs by run name (the variant)."""
    return {r["info"]["run_name"]: r for r in table_rows(server, "tags.`harness.role` = 'study'")}


def objective(server: Any) -> str:
    return tags_of(next(iter(parents(server).values())))["harness.objective"]


def test_the_readme_names_the_steps_checked_here() -> None:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Compare the recipes in MLflow")[1]
    section = section.split("\n## ")[0]
    assert f"`{README_FILTER}`" in section and f"`{GROUP_TAG}`" in section
    assert "`summary/fd_classifier_mean`" in section and "ascending" in section  # fd_classifier: minimized


def test_a_group_by_variant_holds_its_seeds_and_never_the_parent(server: Any) -> None:
    """Step 2 under the default sort: the table has fetched the parents too, and they stay out of the groups."""
    rows = table_rows(server, README_FILTER)
    assert {tags_of(r).get("harness.role") for r in rows} == {"trial", "study"}  # the parents are there
    groups = grouped(rows, GROUP_TAG)
    assert {variant: len(runs) for variant, runs in groups.items() if variant} == {"vanilla": SEEDS,
                                                                                 "wgan_gp": SEEDS}
    assert all(tags_of(r)["harness.role"] == "study" for r in groups.get(None, []))  # "Additional runs"
    assert all(GROUP_TAG not in tags_of(p) for p in parents(server).values())


def test_the_readme_sort_ranks_the_recipes_best_first(server: Any) -> None:
    """Steps 1-3: every run the search keeps holds the sort key, so the groups come in the parents' rank order."""
    key = f"summary/{objective(server)}_mean"
    rows = table_rows(server, README_FILTER, f"metrics.`{key}` ASC")
    assert rows and all(key in metrics_of(r) for r in rows)
    assert {tags_of(r)["harness.role"] for r in rows} == {"trial"}  # sorted by a metric: no parent fetched
    groups = grouped(rows, GROUP_TAG)
    assert all(len(runs) == SEEDS for runs in groups.values())
    means = {variant: sum(metrics_of(r)[key] for r in runs) / len(runs) for variant, runs in groups.items()}
    ranked = sorted(means, key=means.__getitem__)  # the table's order of groups, ascending
    by_rank = sorted(parents(server).items(), key=lambda item: int(tags_of(item[1])["harness.rank"]))
    assert ranked == [variant for variant, _ in by_rank] and list(groups) == ranked
    for variant, parent in by_rank:
        assert means[variant] == pytest.approx(metrics_of(parent)[key])  # the parent's own summary
        assert {k for k in metrics_of(parent) if k.startswith("summary/")} <= set(metrics_of(groups[variant][0]))


def fetch(server: Any, link: str) -> tuple[str, bytes]:
    """A link of a run's description, resolved as the browser resolves it on the run's page."""
    with urllib.request.urlopen(urllib.parse.urljoin(server.url + "/", link), timeout=30) as response:
        return response.headers.get_content_type(), response.read()


def test_a_runs_description_shows_its_last_picture_captioned_with_its_identity(server: Any) -> None:
    from PIL import Image

    for run in table_rows(server, README_FILTER, "attributes.run_name ASC"):
        name, params = run["info"]["run_name"], {p["key"] for p in run["data"].get("params", [])}
        note = tags_of(run)["mlflow.note.content"]
        caption = note.split("[")[0]
        assert caption.replace("\\", "") == f"**{name}** · samples at step 40 "
        assert len(params) > 10 and not any(p in note for p in params if "." in p)  # the params stay in params
        preview, full = re.findall(r"\]\((get-artifact\?[^)]+)\)", note)
        kind, data = fetch(server, preview)
        assert kind == "image/png" and Image.open(io.BytesIO(data)).height <= 80  # whole in MLflow's 100 px fold
        kind, data = fetch(server, full)
        assert kind == "image/png" and Image.open(io.BytesIO(data)).height >= 400


def test_the_readme_steps_in_a_browser(server: Any, tmp_path: Path) -> None:
    """The README's steps clicked through in headless Chromium: group counts, order, a run's picture."""
    from benchmarks.mlflow_readme_steps import browser_problem, follow_readme

    if problem := browser_problem():
        pytest.skip(f"NO BROWSER: {problem}; the README's MLflow steps are checked through the REST API only")
    seen = follow_readme(server.url, "ui", objective(server), tmp_path)
    by_rank = sorted(parents(server).items(), key=lambda item: int(tags_of(item[1])["harness.rank"]))
    assert seen.group_counts_before_sort == {variant: SEEDS for variant, _ in by_rank}
    assert seen.groups_after_sort == [f"{variant} ({SEEDS})" for variant, _ in by_rank]
    assert seen.run_picture_height >= 60
