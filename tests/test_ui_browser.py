"""The lineage explorer in headless Chromium: the demo's questions answered by clicking.

Each test drives Debian's ``chromium`` through Playwright over a real server on loopback, checks what the
page shows against the store's read API, fails on any console error, and leaves a screenshot of the page
it ends on in docs/ui/. See ui_browser.py for when these tests skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_browser import SCREENSHOTS, chromium_path, fan_out_store, launch

from mlmd_log.demo import run_demo
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.store import open_reader
from mlmd_log.ui.app import running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright, executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[Reader, str]]:
    path = str(tmp_path_factory.mktemp("ui") / "demo.duckdb")
    run_demo(path, emit=lambda _: None)
    store = open_reader(path)
    with running(store) as url:
        yield store, url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"console errors: {errors}"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def model_of(store: Reader, run: str) -> mlmd.Artifact:
    context = store.get_context_by_type_and_name("PipelineRun", run)
    trainer = next(e for e in store.get_executions_by_context(context.id) if e.type == "Trainer")
    outputs = [e.artifact_id for e in store.get_events_by_execution_ids([trainer.id]) if e.type == mlmd.Event.OUTPUT]
    return next(a for a in store.get_artifacts_by_id(outputs) if a.type == "Model")


def cell(page: Any, table: str, first: str, column: int) -> str:
    """The text of a row's cell in a table, the row found by its first cell."""
    row = page.locator(f"#{table} tbody tr").filter(has=page.locator("td").first.filter(has_text=first))
    return str(row.first.locator("td").nth(column).inner_text())


def test_which_dataset_trained_the_model(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    model = model_of(store, "run-3")
    page.goto(url)
    page.fill("#q", "Model")
    page.click("button[type=submit]")
    shot(page, "search")
    page.click(f"#results a:text-is('{model.id}')")
    page.click("text=Upstream lineage")
    page.wait_for_selector("body[data-graph-ready]")
    shot(page, "graph")
    # Grouped by context: a box for each run the nodes are drawn in (a node's first context), around them.
    ids = [int(r.split("\t")[0]) for r in page.locator("#graph-table tbody tr").all_inner_texts()]
    boxes = set()
    for node in [*store.get_artifacts_by_id(ids), *store.get_executions_by_id(ids)]:
        get = store.get_contexts_by_artifact if isinstance(node, mlmd.Artifact) else store.get_contexts_by_execution
        boxes.add(min(c.id for c in get(node.id)))
    drawn = int(page.evaluate("document.body.dataset.graphReady").split(":")[1])
    assert len(boxes) >= 2 and drawn == len(ids) + len(boxes)
    rows = page.locator("#graph-table tbody tr")
    shown = {r.split("\t")[0]: r.split("\t") for r in rows.all_inner_texts()}
    datasets = [cells for cells in shown.values() if cells[2] == "Examples"]
    trainer = next(e for e in store.get_executions_by_context(
        store.get_context_by_type_and_name("PipelineRun", "run-3").id) if e.type == "Trainer")
    inputs = [e.artifact_id for e in store.get_events_by_execution_ids([trainer.id]) if e.type == mlmd.Event.INPUT]
    [expected] = [a for a in store.get_artifacts_by_id(inputs) if a.type == "Examples"]
    assert [d[0] for d in datasets] == [str(expected.id)]
    page.click(f"#graph-table a:text-is('{expected.id}')")
    page.wait_for_selector("#facts")
    assert cell(page, "facts", "uri", 1) == expected.uri
    assert cell(page, "properties", "span", 1) == str(expected.properties["span"].int_value)


def test_hyperparameters_of_the_model(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    model = model_of(store, "run-3")
    page.goto(url + f"#/node/{model.id}")
    page.click("#events a:has-text('Trainer')")
    page.wait_for_selector("#properties")
    shot(page, "node")
    [event] = [e for e in store.get_events_by_artifact_ids([model.id]) if e.type == mlmd.Event.OUTPUT]
    [trainer] = store.get_executions_by_id([event.execution_id])
    assert page.locator("h1").inner_text().startswith(f"Trainer {trainer.id}")
    for name in ("learning_rate", "epochs"):
        value = trainer.properties[name]
        shown = value.double_value if value.WhichOneof("value") == "double_value" else value.int_value
        assert cell(page, "properties", name, 1) == str(shown)


def test_model_as_of_a_past_position_with_the_slider(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    model = model_of(store, "run-3")
    serving = next(v for v in store.get_history("artifact", model.id)
                   if v.node.custom_properties["deployment"].string_value == "serving")
    page.goto(url + f"#/node/{model.id}")
    assert cell(page, "custom-properties", "deployment", 1) == "retired"
    slider = page.locator("#asof-slider")
    slider.focus()
    for _ in range(store.log_position() - serving.valid_from):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"document.body.dataset.route.endsWith('as_of={serving.valid_from}')")
    page.wait_for_selector(f"#permalink:has-text('as of {serving.valid_from}')")
    assert cell(page, "custom-properties", "deployment", 1) == "serving"
    assert page.evaluate("document.activeElement.id") == "asof-slider"  # the keyboard stays on the slider
    shot(page, "node-as-of")
    # The permalink opens the same past state in a fresh page.
    permalink = page.locator("#permalink").get_attribute("href")
    page.goto(url + permalink)
    assert cell(page, "custom-properties", "deployment", 1) == "serving"


def test_graph_redrawn_as_it_was(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    run3 = store.get_context_by_type_and_name("PipelineRun", "run-3")
    before = min(v.valid_from for v in store.get_history("context", run3.id)) - 1
    dataset = next(a for a in store.get_artifacts_by_type("Examples") if "run-2" in a.uri)
    page.goto(url + f"#/graph/{dataset.id}?direction=down")
    page.wait_for_selector("body[data-graph-ready]")
    slider = page.locator("#asof-slider")
    slider.focus()
    page.keyboard.press("Home")  # position -1: nothing existed yet, an empty graph that says so
    page.wait_for_selector("#graph-summary:has-text('did not exist yet at log position -1')")
    page.locator("#asof-slider").fill(str(before))
    page.wait_for_function(f"document.body.dataset.graphReady && document.body.dataset.graphReady.startsWith('{before}:')")
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=20, direction=mlmd.LineageSubgraphQueryOptions.DOWNSTREAM)
    options.starting_artifacts.filter_query = f"id = {dataset.id}"
    expected = store.get_lineage_subgraph(options, as_of=before)
    shown = {int(r.split("\t")[0]) for r in page.locator("#graph-table tbody tr").all_inner_texts()}
    assert shown == {a.id for a in expected.artifacts} | {e.id for e in expected.executions}
    assert model_of(store, "run-3").id not in shown
    shot(page, "graph-as-of")


def test_diff_between_two_runs(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    page.goto(url + "#/diff")
    page.wait_for_selector("#run-b option:has-text('run-3')", state="attached")
    page.select_option("#run-a", label=next(o for o in page.locator("#run-a option").all_inner_texts() if "run-2" in o))
    page.select_option("#run-b", label=next(o for o in page.locator("#run-b option").all_inner_texts() if "run-3" in o))
    page.click("#diff-go")
    page.wait_for_selector("#diff-table")
    page.wait_for_selector("body[data-graph-ready]")
    a, b = int(page.input_value("#from")), int(page.input_value("#to"))
    created = {c.ids[0] for c in store.get_entity_changes(after=a, up_to=b)
               if c.action == "created" and c.kind in ("artifact", "execution", "context")}
    added = {int(r.split("\t")[1]) for r in page.locator("#diff-table tbody tr.added").all_inner_texts()}
    assert added == created
    assert model_of(store, "run-3").id in added
    shot(page, "diff")


def test_sql_behind_the_view_is_copyable(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    model = model_of(store, "run-3")
    page.goto(url + f"#/graph/{model.id}?direction=up")
    page.wait_for_selector("body[data-graph-ready]")
    page.click("#sql summary")
    page.locator("#sql button").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    lines = copied.splitlines()
    params = json.loads(lines[1].split("params = ", 1)[1])
    rows = store.sql("\n".join(lines[2:]), params).to_pylist()
    shown = {int(r.split("\t")[0]) for r in page.locator("#graph-table tbody tr").all_inner_texts()}
    assert {r["id"] for r in rows} == shown


def test_keyboard_moves_through_the_graph(demo: tuple[Reader, str], page: Any) -> None:
    store, url = demo
    model = model_of(store, "run-3")
    page.goto(url + f"#/graph/{model.id}?direction=up")
    page.wait_for_selector("body[data-graph-ready]")
    page.focus("#cy")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#status:has-text('Selected')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#facts")
    assert page.evaluate("location.hash").startswith("#/node/")


def test_a_thousand_node_graph_collapses_by_type(tmp_path: Path, browser: Any, page: Any) -> None:
    dataset, _ = fan_out_store(str(tmp_path / "fan.duckdb"), executions=500)
    store = open_reader(str(tmp_path / "fan.duckdb"))
    with running(store) as url:
        page.goto(url + f"#/graph/{dataset}?direction=down&hops=2")
        page.wait_for_selector("body[data-graph-ready]")
        assert page.locator("#graph-summary").inner_text().startswith("1001 nodes")
        assert page.is_checked("#collapse")
        drawn = int(page.evaluate("document.body.dataset.graphReady").split(":")[1])
        assert drawn == 3  # Dataset (alone: drawn as itself), Trainer x500, Model x500
        shot(page, "graph-collapsed")
        page.focus("#cy")
        for _ in range(2):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")  # expands the group the selection is on
        page.wait_for_function("document.body.dataset.route.includes('expand=')")
        page.wait_for_function("Number(document.body.dataset.graphReady.split(':')[1]) > 500")
        assert page.locator("#graph-table tbody tr").count() == 1001
