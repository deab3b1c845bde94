"""The explorer's JSON endpoints and pages over HTTP (a real uvicorn server on loopback), on the demo's store.

Answers are checked against the store's own read API, and each view's SQL is run to check it gives the rows
the view shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlmd_log.demo import run_demo
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.store import open_reader
from mlmd_log.ui.app import STATIC_DIR, running

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "mlmd_log" / "ui" / "frontend"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("ui") / "demo.duckdb")
    run_demo(path, emit=lambda _: None)
    return path


@pytest.fixture(scope="module")
def served(demo_db: str) -> Iterator[tuple[Reader, str]]:
    store = open_reader(demo_db)
    with running(store) as url:
        yield store, url


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            kind = response.headers.get("content-type", "")
            return response.status, json.loads(body) if "json" in kind else body
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def model_of(store: Reader, run: str) -> int:
    """The Model artifact a run's Trainer output (found through reads, not remembered)."""
    context = store.get_context_by_type_and_name("PipelineRun", run)
    trainer = next(e for e in store.get_executions_by_context(context.id) if e.type == "Trainer")
    outputs = [e.artifact_id for e in store.get_events_by_execution_ids([trainer.id]) if e.type == mlmd.Event.OUTPUT]
    return next(a.id for a in store.get_artifacts_by_id(outputs) if a.type == "Model")


def test_search_by_text_and_filter_query(served: tuple[Reader, str]) -> None:
    store, url = served
    status, found = get(url + "api/search?q=run-3%2Fmodel")
    assert status == 200
    assert [r["id"] for r in found["results"]] == [model_of(store, "run-3")]
    status, found = get(url + "api/search?filter_query=" + urllib.parse.quote("type = 'Model'") + "&kind=artifact")
    assert status == 200
    assert [r["id"] for r in found["results"]] == sorted(a.id for a in store.get_artifacts_by_type("Model"))
    status, error = get(url + "api/search?filter_query=" + urllib.parse.quote("nonsense ==") + "&kind=artifact")
    assert status == 400 and error["error"] == "InvalidArgumentError"


def test_node_page_as_of_and_versions(served: tuple[Reader, str]) -> None:
    store, url = served
    model = model_of(store, "run-3")
    versions = store.get_history("artifact", model)
    first, last = versions[0], versions[-1]
    status, now = get(url + f"api/node/{model}")
    assert status == 200
    assert now["custom_properties"]["deployment"] == "retired"
    assert [v["valid_from"] for v in now["versions"]] == [v.valid_from for v in versions]
    assert now["versions"][0]["op"] == first.change.payload and now["versions"][0]["service"] == "taxi-orchestrator"
    serving = next(v for v in versions if v.node.custom_properties["deployment"].string_value == "serving")
    status, then = get(url + f"api/node/{model}?as_of={serving.valid_from}")
    assert then["custom_properties"]["deployment"] == "serving"
    assert [c["name"] for c in then["contexts"]] == ["run-3"]
    assert {e["other"]["type"] for e in then["events"]} == {"Trainer", "Evaluator", "Pusher"}
    status, error = get(url + f"api/node/{model}?as_of={first.valid_from - 1}")
    assert status == 404 and "did not exist yet" in error["message"]
    status, error = get(url + f"api/node/{model}?as_of={last.valid_from + 10_000}")
    assert status == 400 and error["error"] == "InvalidArgumentError"
    assert get(url + "api/node/424242")[0] == 404


def test_lineage_matches_the_store_and_its_sql(served: tuple[Reader, str]) -> None:
    store, url = served
    model = model_of(store, "run-3")
    for direction, walk in (("up", mlmd.LineageSubgraphQueryOptions.UPSTREAM),
                            ("down", mlmd.LineageSubgraphQueryOptions.DOWNSTREAM)):
        status, graph = get(url + f"api/lineage/{model}?direction={direction}&hops=20")
        assert status == 200
        options = mlmd.LineageSubgraphQueryOptions(max_num_hops=20, direction=walk)
        options.starting_artifacts.filter_query = f"id = {model}"
        expected = store.get_lineage_subgraph(options)
        ids = {n["id"] for n in graph["nodes"]}
        assert ids == {a.id for a in expected.artifacts} | {e.id for e in expected.executions}
        assert len(graph["edges"]) == len(expected.events)
        nodes_sql, edges_sql, member_sql = graph["sql"]
        assert {r["id"] for r in store.sql(nodes_sql["query"], nodes_sql["params"]).to_pylist()} == ids
        assert store.sql(edges_sql["query"], edges_sql["params"]).num_rows == len(graph["edges"])
        pairs = {(r["node_id"], r["context_id"]) for r in store.sql(member_sql["query"], member_sql["params"]).to_pylist()}
        assert pairs == {(n["id"], c) for n in graph["nodes"] for c in n["contexts"]}
    status, both = get(url + f"api/lineage/{model}?direction=both&hops=20")
    nodes_sql, edges_sql, _ = both["sql"]
    assert {r["id"] for r in store.sql(nodes_sql["query"], nodes_sql["params"]).to_pylist()} == {n["id"] for n in both["nodes"]}
    assert store.sql(edges_sql["query"], edges_sql["params"]).num_rows == len(both["edges"])
    assert get(url + f"api/lineage/{model}?direction=sideways")[0] == 400
    assert get(url + f"api/lineage/{model}?hops=-1")[0] == 400
    status, error = get(url + f"api/lineage/{model}?hops=many")
    assert status == 400 and error["error"] == "InvalidArgumentError" and "hops" in error["message"]


def test_lineage_as_of_draws_the_past(served: tuple[Reader, str]) -> None:
    store, url = served
    run3 = store.get_context_by_type_and_name("PipelineRun", "run-3")
    before_run3 = min(v.valid_from for v in store.get_history("context", run3.id)) - 1
    dataset = next(e.artifact_id for e in store.get_events_by_execution_ids(
        [next(x.id for x in store.get_executions_by_context(run3.id) if x.type == "Trainer")])
        if e.type == mlmd.Event.INPUT and store.get_artifacts_by_id([e.artifact_id])[0].type == "Examples")
    _, then = get(url + f"api/lineage/{dataset}?direction=down&as_of={before_run3}")
    _, now = get(url + f"api/lineage/{dataset}?direction=down")
    models = lambda g: {n["id"] for n in g["nodes"] if n["type"] == "Model"}  # noqa: E731
    assert model_of(store, "run-3") in models(now) and model_of(store, "run-3") not in models(then)
    assert models(then) == {model_of(store, "run-2")}


def test_diff_between_positions(served: tuple[Reader, str]) -> None:
    store, url = served
    spans = {c["name"]: c for c in get(url + "api/contexts")[1]["contexts"]}
    a, b = spans["run-2"]["last_position"], spans["run-3"]["last_position"]
    status, diff = get(url + f"api/diff?from={a}&to={b}")
    assert status == 200
    created = {c.ids[0] for c in store.get_entity_changes(after=a, up_to=b)
               if c.action == "created" and c.kind in ("artifact", "execution", "context")}
    assert {n["id"] for n in diff["nodes"] if n["status"] == "added"} == created
    assert diff["counts"]["removed"] == 0
    model = model_of(store, "run-3")
    serving = next(v.valid_from for v in store.get_history("artifact", model)
                   if v.node.custom_properties["deployment"].string_value == "serving")
    _, change = get(url + f"api/diff?from={serving}&to={store.log_position()}")
    [shown] = [n for n in change["nodes"] if n["id"] == model]
    assert shown["status"] == "changed"
    assert {"field": "custom_properties.deployment", "old": "serving", "new": "retired"} in shown["fields"]
    nodes_sql, edges_sql = change["sql"]
    rows = store.sql(nodes_sql["query"], nodes_sql["params"]).to_pylist()
    assert {(r["id"], r["status"]) for r in rows} == {(n["id"], n["status"]) for n in change["nodes"]
                                                      if n["status"] != "same"}
    edges = store.sql(edges_sql["query"], edges_sql["params"]).to_pylist()
    assert len(edges) == sum(1 for e in change["edges"] if e["status"] != "same")
    _, scoped = get(url + f"api/diff?from={a}&to={b}&node={model}")
    assert all(n["id"] != spans["run-3"]["id"] for n in scoped["nodes"])  # contexts are not in a lineage


def test_positions_for_the_slider(served: tuple[Reader, str]) -> None:
    store, url = served
    _, log = get(url + "api/positions")
    assert log["last"] == store.log_position()
    assert [p["position"] for p in log["positions"]] == list(range(log["last"] + 1))
    assert all(p["time_ms"] > 0 for p in log["positions"])


def test_pages_and_assets_are_served(served: tuple[Reader, str]) -> None:
    _, url = served
    status, page = get(url)
    assert status == 200 and b"assets/app.js" in page
    for name in ("app.js", "style.css", "LICENSE.cytoscape.txt", "LICENSE.cytoscape-dagre.txt", "LICENSE.dagre.txt"):
        assert get(url + "assets/" + name)[0] == 200
    assert get(url + "assets/..%2F..%2Fapp.py")[0] == 404
    assert get(url + "assets/missing.js")[0] == 404


def test_bundle_pins_the_locked_libraries() -> None:
    lock = json.loads((FRONTEND / "package-lock.json").read_text(encoding="utf-8"))
    package = json.loads((FRONTEND / "package.json").read_text(encoding="utf-8"))
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    bundle = (Path(STATIC_DIR) / "app.js").read_text(encoding="utf-8")
    assert f'"{package["dependencies"]["cytoscape"]}"' in bundle  # the bundle is built from the locked Cytoscape.js


def test_cli_serves_the_file(demo_db: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmd_log.cli", "ui", "--db", demo_db, "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/ui/)", line)
        assert match, line
        status, log = get(match.group(1) + "api/positions")
        assert status == 200 and log["last"] >= 0
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_node_in_no_context(tmp_path: Path) -> None:
    """MLMD's get_contexts_by_artifact raises NotFoundError for an artifact in no context: the page lists none."""
    import mlmd_log

    path = str(tmp_path / "lone.duckdb")
    with mlmd_log.connect(f"duckdb:///{path}") as writer:
        type_id = writer.put_artifact_type(mlmd.ArtifactType(name="Dataset"))
        [lone] = writer.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/data/lone")])
    with running(open_reader(path)) as url:
        status, page = get(url + f"api/node/{lone}")
        assert status == 200 and page["contexts"] == [] and page["uri"] == "/data/lone"
        status, graph = get(url + f"api/lineage/{lone}?direction=both")
        assert status == 200 and [n["id"] for n in graph["nodes"]] == [lone] and graph["edges"] == []
