"""The demo's report: a pipeline's questions (docs/design.md) asked of the recorded run, answered by the read API.

Every answer is one read (or a few) through MLMD's API, plus one ``sql()``
query and one ``as_of`` read; the lineage picture of one model is printed as a
tree and written as a Mermaid flowchart. Lines stay within 100 columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mlmd_log.demo.pipeline import Recorded, event_key, find_cache_hit, plain, properties_of
from mlmd_log.errors import UnimplementedError
from mlmd_log.output import render
from mlmd_log.query.lineage import DOWNSTREAM, UPSTREAM, traverse
from mlmd_log.query.options import ListOptions
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.store import MetadataStore

WIDTH: Final = 100
MAX_HOPS: Final = 20
_STATE = mlmd.Execution.State.Name

#: The SQL example: every training run's hyperparameters and library version, from the documented views.
HYPERPARAMETERS_SQL: Final = """\
SELECT c.name AS run, e.id AS trainer,
       max(p.double_value) FILTER (WHERE p.name = 'learning_rate') AS learning_rate,
       max(p.int_value) FILTER (WHERE p.name = 'epochs') AS epochs,
       max(p.string_value) FILTER (WHERE p.name = 'tensorflow_version') AS tensorflow
FROM executions e
JOIN types t ON t.id = e.type_id AND t.name = 'Trainer'
JOIN execution_properties p ON p.execution_id = e.id
JOIN associations s ON s.execution_id = e.id
JOIN contexts c ON c.id = s.context_id
GROUP BY c.name, e.id ORDER BY c.name"""


def fmt_time(ms: int) -> str:
    """Milliseconds since the epoch as a readable UTC time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _short(value: object, width: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# -- lineage reads ---------------------------------------------------------------------------------------


def filter_query_available(store: MetadataStore) -> bool:
    """Whether this build serves ``filter_query`` (and so MLMD's ``get_lineage_subgraph``)."""
    try:
        store.get_artifacts(ListOptions(filter_query="id = 1", limit=1))
    except UnimplementedError:
        return False
    return True


@dataclass(frozen=True)
class LineageReader:
    """Lineage through MLMD's ``get_lineage_subgraph`` when ``filter_query`` is served, else ``traverse``."""

    store: MetadataStore
    use_subgraph: bool

    @property
    def call(self) -> str:
        """How the lineage is read, for the report's "how" lines."""
        return "get_lineage_subgraph" if self.use_subgraph else "query.lineage.traverse"

    def graph(self, artifact_id: int, direction: mlmd.LineageSubgraphQueryOptions.Direction) -> mlmd.LineageGraph:
        """Artifacts, executions and the events between them within ``MAX_HOPS`` of one artifact."""
        if self.use_subgraph:
            options = mlmd.LineageSubgraphQueryOptions(
                starting_artifacts=mlmd.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {artifact_id}"),
                max_num_hops=MAX_HOPS,
            )
            options.direction = direction
            return self.store.get_lineage_subgraph(options, ["artifacts", "executions", "events"])
        reached = traverse(self.store.con, start_kind="artifact", start_ids=[artifact_id], max_hops=MAX_HOPS,
                           direction=direction, position=None)
        graph = mlmd.LineageGraph()
        graph.artifacts.extend(self.store.get_artifacts_by_id(reached.artifact_ids))
        graph.executions.extend(self.store.get_executions_by_id(reached.execution_ids))
        executions = set(reached.execution_ids)
        graph.events.extend(e for e in self.store.get_events_by_artifact_ids(reached.artifact_ids)
                            if e.execution_id in executions)
        return graph


# -- the lineage picture ---------------------------------------------------------------------------------


class LineagePicture:
    """The upstream lineage of one artifact as a terminal tree and as a Mermaid flowchart."""

    def __init__(self, graph: mlmd.LineageGraph, root: int, run_of: dict[int, str]) -> None:
        self.root = root
        self.run_of = run_of
        self.artifacts = {a.id: a for a in graph.artifacts}
        self.executions = {e.id: e for e in graph.executions}
        self.events = sorted(graph.events, key=lambda e: (e.execution_id, e.artifact_id, e.type))
        self.producers: dict[int, list[int]] = {}
        self.inputs: dict[int, list[tuple[str, int]]] = {}
        for event in self.events:
            if event.type == mlmd.Event.OUTPUT:
                self.producers.setdefault(event.artifact_id, []).append(event.execution_id)
            elif event.type == mlmd.Event.INPUT:
                self.inputs.setdefault(event.execution_id, []).append((event_key(event), event.artifact_id))

    def artifact_label(self, artifact_id: int, sep: str = " ") -> str:
        artifact = self.artifacts[artifact_id]
        details = [f"{k}={_short(v, 24)}" for k, v in sorted(properties_of(artifact).items())
                   if k in ("span", "accuracy")]
        details += [f"{k}={plain(v)}" for k, v in sorted(artifact.custom_properties.items())]
        return sep.join([f"{artifact.type} {artifact.id}", *details])

    def execution_label(self, execution_id: int) -> str:
        execution = self.executions[execution_id]
        props = properties_of(execution)
        details = [f"{k}={props[k]}" for k in ("learning_rate", "epochs") if k in props]
        parts = [f"{execution.type} {execution.id}", _STATE(execution.last_known_state),
                 self.run_of.get(execution.id, ""), *details]
        return "  ".join(p for p in parts if p)

    def tree(self) -> list[str]:
        """The upstream lineage as an indented tree (box-drawing characters); repeated nodes are not re-expanded."""
        lines = [self.artifact_label(self.root)]
        seen: set[tuple[str, int]] = {("a", self.root)}

        def walk(kind: str, node: int, prefix: str) -> None:
            children: list[tuple[str, int, str]]
            if kind == "a":
                children = [("e", e, "") for e in sorted(self.producers.get(node, []))]
            else:
                children = [("a", a, key) for key, a in self.inputs.get(node, [])]
            for i, (child_kind, child, key) in enumerate(children):
                last = i == len(children) - 1
                label = self.artifact_label(child) if child_kind == "a" else self.execution_label(child)
                label = f"{key}: {label}" if key else label
                repeat = (child_kind, child) in seen
                lines.append(f"{prefix}{'└─ ' if last else '├─ '}{label}{'  (see above)' if repeat else ''}")
                if not repeat:
                    seen.add((child_kind, child))
                    walk(child_kind, child, prefix + ("   " if last else "│  "))

        walk("a", self.root, "")
        return lines

    def mermaid(self) -> str:
        """A Mermaid flowchart (data flows left to right): artifacts are rounded, executions square."""
        out = ["%% Upstream lineage of "
               f"{self.artifacts[self.root].type} {self.root}, written by `mlmd-log demo`.",
               "%% Open it in any Mermaid viewer (e.g. a Markdown preview, or mermaid.live).",
               "flowchart LR"]
        for artifact_id in sorted(self.artifacts):
            out.append(f'    a{artifact_id}(["{self.artifact_label(artifact_id, "<br/>")}"])')
        for execution_id in sorted(self.executions):
            execution = self.executions[execution_id]
            run = self.run_of.get(execution_id, "")
            out.append(f'    e{execution_id}["{execution.type} {execution_id}<br/>'
                       f'{_STATE(execution.last_known_state)} {run}"]')
        for event in self.events:
            key = event_key(event)
            arrow = f"-- {key} -->" if key else "-->"
            if event.type == mlmd.Event.OUTPUT:
                out.append(f"    e{event.execution_id} {arrow} a{event.artifact_id}")
            elif event.type == mlmd.Event.INPUT:
                out.append(f"    a{event.artifact_id} {arrow} e{event.execution_id}")
        out += ["    classDef artifact fill:#e8f0fe,stroke:#4a6fa5",
                "    classDef execution fill:#f1f3f4,stroke:#5f6368",
                "    classDef cached fill:#fff4d6,stroke:#b8860b",
                "    classDef failed fill:#fde2e1,stroke:#b3261e",
                "    classDef focus fill:#d7f5dd,stroke:#1e8e3e,stroke-width:3px"]
        if self.artifacts:
            out.append(f"    class {','.join(f'a{i}' for i in sorted(self.artifacts))} artifact")
        if self.executions:
            out.append(f"    class {','.join(f'e{i}' for i in sorted(self.executions))} execution")
        for state, css in ((mlmd.Execution.CACHED, "cached"), (mlmd.Execution.FAILED, "failed")):
            marked = [f"e{i}" for i, e in sorted(self.executions.items()) if e.last_known_state == state]
            if marked:
                out.append(f"    class {','.join(marked)} {css}")
        out.append(f"    class a{self.root} focus")
        return "\n".join(out) + "\n"


# -- the report ------------------------------------------------------------------------------------------


class Report:
    """Asks the store a pipeline's questions about the recorded pipeline and prints the answers."""

    def __init__(self, store: MetadataStore, recorded: Recorded, emit: Callable[[str], None]) -> None:
        self.store = store
        self.recorded = recorded
        self.emit = emit
        self.lineage = LineageReader(store, filter_query_available(store))
        self.run_of: dict[int, str] = {}
        for run, context_id in recorded.run_ids.items():
            for execution in store.get_executions_by_context(context_id):
                self.run_of[execution.id] = run
        self.number = 0

    # -- output helpers ------------------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        self.emit(text)

    def table(self, rows: Sequence[dict[str, Any]], indent: int = 4) -> None:
        for text in render(list(rows), "table").splitlines():
            self.emit(" " * indent + text)

    def question(self, text: str, how: str) -> None:
        self.number += 1
        self.emit("")
        self.emit(f"[{self.number}] {text}")
        self.emit(f"    how: {how}")

    # -- reads shared by several questions -----------------------------------------------------------

    def producer_of(self, artifact_id: int) -> mlmd.Execution:
        """The execution that first output an artifact (a cached execution re-outputs it later)."""
        outputs = [e for e in self.store.get_events_by_artifact_ids([artifact_id]) if e.type == mlmd.Event.OUTPUT]
        executions = self.store.get_executions_by_id([e.execution_id for e in outputs])
        return min(executions, key=lambda e: (e.last_known_state == mlmd.Execution.CACHED, e.id))

    def input_ids(self, execution_id: int) -> list[int]:
        return sorted(e.artifact_id for e in self.store.get_events_by_execution_ids([execution_id])
                      if e.type == mlmd.Event.INPUT)

    # -- the report ----------------------------------------------------------------------------------

    def overview(self) -> None:
        store, recorded = self.store, self.recorded
        (pipeline,) = store.get_contexts_by_id([recorded.pipeline_id])
        runs = store.get_children_contexts_by_context(pipeline.id)
        executions = store.get_executions()
        artifacts = store.get_artifacts()
        position = store.log_position()
        self.line(f'Recorded pipeline "{pipeline.name}": {len(runs)} runs, {len(executions)} executions, '
                  f"{len(artifacts)} artifacts, {len(runs) + 1} contexts;")
        self.line(f"{position + 1} ops in the log (positions 0..{position}). Each answer below is a read "
                  "through the MLMD API.")
        self.line("")
        self.line("The runs   how: get_children_contexts_by_context(pipeline), get_executions_by_context(run)")
        rows = []
        for run in sorted(runs, key=lambda c: c.id):
            by_step = {e.type: e for e in store.get_executions_by_context(run.id)}
            model = recorded.models.get(run.name)
            rows.append({
                "run": run.name,
                "trigger": _short(plain(run.properties["trigger"]), 40),
                "Transform": _STATE(by_step["Transform"].last_known_state),
                "Trainer": _STATE(by_step["Trainer"].last_known_state),
                "Pusher": _STATE(by_step["Pusher"].last_known_state),
                "model": model,
            })
        self.table(rows, indent=2)

    def model_questions(self, model_id: int, run: str) -> LineagePicture:
        store = self.store
        upstream = self.lineage.graph(model_id, UPSTREAM)
        picture = LineagePicture(upstream, model_id, self.run_of)

        self.question(f"Which dataset did model {model_id} ({run}) train on?",
                      f"{self.lineage.call}(model, upstream) -> its Examples artifacts")
        datasets = sorted((a for a in upstream.artifacts if a.type == "Examples"), key=lambda a: a.id)
        self.table([{"dataset": a.id, "type": a.type, "span": plain(a.properties["span"]), "uri": a.uri}
                    for a in datasets])

        trainer = self.producer_of(model_id)
        props = properties_of(trainer)
        self.question("Which hyperparameters?",
                      "get_events_by_artifact_ids([model]) -> OUTPUT event -> get_executions_by_id")
        self.table([{"trainer": trainer.id, "learning_rate": props["learning_rate"], "epochs": props["epochs"],
                     "module_file": props["module_file"]}])

        self.question("Which pipeline run created it?",
                      "get_contexts_by_artifact(model), get_parent_contexts_by_context(run)")
        rows = []
        for context in store.get_contexts_by_artifact(model_id):
            parents = store.get_parent_contexts_by_context(context.id)
            rows.append({"context": context.id, "type": context.type, "run": context.name,
                         "pipeline": ", ".join(p.name for p in parents),
                         "trigger": _short(plain(context.properties["trigger"]), 40)})
        self.table(rows)

        self.question("Which training run?", "the Trainer execution that output the model, and its inputs")
        self.table([{"execution": trainer.id, "name": trainer.name, "state": _STATE(trainer.last_known_state),
                     "started": fmt_time(trainer.create_time_since_epoch),
                     "finished": fmt_time(trainer.last_update_time_since_epoch)}])
        inputs = store.get_artifacts_by_id(self.input_ids(trainer.id))
        self.line("    inputs: " + ", ".join(f"{a.type} {a.id}" for a in inputs))

        self.question("Which library versions built it?",
                      f"{self.lineage.call}(model, upstream) -> executions' properties")
        rows = []
        for execution in sorted(upstream.executions, key=lambda e: e.id):
            p = properties_of(execution)
            rows.append({"execution": execution.id, "type": execution.type, "run": self.run_of.get(execution.id),
                         "state": _STATE(execution.last_known_state),
                         "tensorflow": p.get("tensorflow_version"), "tfx": p.get("tfx_version")})
        self.table(rows)
        return picture

    def failed_push(self) -> None:
        store = self.store
        self.question("When was the failed model pushed?",
                      'get_executions_by_type("Pusher") where last_known_state == FAILED, + its INPUT events')
        failed = [e for e in store.get_executions_by_type("Pusher") if e.last_known_state == mlmd.Execution.FAILED]
        rows, errors = [], []
        for pusher in failed:
            models = [a for a in store.get_artifacts_by_id(self.input_ids(pusher.id)) if a.type == "Model"]
            rows.append({"pusher": pusher.id, "run": self.run_of.get(pusher.id),
                         "model": ", ".join(str(m.id) for m in models),
                         "push started": fmt_time(pusher.create_time_since_epoch),
                         "failed at": fmt_time(pusher.last_update_time_since_epoch)})
            errors.append(f"    error: {plain(pusher.custom_properties['error'])}")
        self.table(rows)
        for error in errors:
            self.line(_short(error, WIDTH))

    def downstream_models(self, dataset_id: int) -> None:
        self.question(f"Which models were trained from dataset {dataset_id}? (downstream)",
                      f"{self.lineage.call}(dataset, downstream) -> its Model artifacts")
        downstream = self.lineage.graph(dataset_id, DOWNSTREAM)
        rows = []
        for model in sorted((a for a in downstream.artifacts if a.type == "Model"), key=lambda a: a.id):
            trainer = self.producer_of(model.id)
            rows.append({"model": model.id, "run": self.run_of.get(trainer.id), "trainer": trainer.id,
                         "learning_rate": plain(trainer.properties["learning_rate"]),
                         "deployment": plain(model.custom_properties["deployment"])
                         if "deployment" in model.custom_properties else "never deployed"})
        self.table(rows)

    def cache_hits(self) -> None:
        store = self.store
        self.question("Has this execution run on the same inputs before? (cache hit)",
                      "executions of the same type with identical INPUT artifact ids and properties")
        rows, hits = [], []
        for execution in sorted(store.get_executions_by_type("Transform"), key=lambda e: e.id):
            inputs = self.input_ids(execution.id)
            hit = find_cache_hit(store, execution.type, inputs, properties_of(execution), before=execution.id)
            rows.append({"Transform": execution.id, "run": self.run_of.get(execution.id),
                         "state": _STATE(execution.last_known_state),
                         "inputs": ", ".join(map(str, inputs)),
                         "same inputs and parameters as": "" if hit is None
                         else f"{hit.id} ({self.run_of.get(hit.id)})"})
            if hit is not None:
                hits.append((execution, hit))
        self.table(rows)
        for execution, hit in hits:
            self.line(f"    -> {execution.type} {execution.id} ({self.run_of.get(execution.id)}) reused the outputs "
                      f"of {hit.id} ({self.run_of.get(hit.id)}): recorded CACHED")
        total = 0
        for execution in store.get_executions():
            inputs = self.input_ids(execution.id)
            if inputs and find_cache_hit(store, execution.type, inputs, properties_of(execution),
                                         before=execution.id) is not None:
                total += 1
        self.line(f"    Across all {len(store.get_executions())} executions, {total} repeated an earlier one.")

    def context_dag(self, run: str) -> None:
        store = self.store
        context_id = self.recorded.run_ids[run]
        self.question(f"Show the DAG of context {run}",
                      "get_executions_by_context(run) + get_events_by_execution_ids -> edges")
        executions = sorted(store.get_executions_by_context(context_id), key=lambda e: e.id)
        events = store.get_events_by_execution_ids([e.id for e in executions])
        artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id for e in events}))}
        rows = []
        for execution in executions:
            mine = [e for e in events if e.execution_id == execution.id]
            rows.append({
                "step": execution.type, "execution": execution.id, "state": _STATE(execution.last_known_state),
                "inputs": ", ".join(str(e.artifact_id) for e in mine if e.type == mlmd.Event.INPUT),
                "outputs": ", ".join(f"{artifacts[e.artifact_id].type} {e.artifact_id}"
                                     for e in mine if e.type == mlmd.Event.OUTPUT),
            })
        self.table(rows)

    def sql_example(self, db_hint: str) -> None:
        self.question("The same store in SQL: every training run's hyperparameters",
                      f'store.sql(query) -> pyarrow.Table   (CLI: mlmd-log sql --db {db_hint} "...")')
        for text in HYPERPARAMETERS_SQL.splitlines():
            self.line("    " + text)
        self.line("")
        self.table(self.store.sql(HYPERPARAMETERS_SQL).to_pylist())

    def as_of_example(self, model_id: int, run: str) -> None:
        store = self.store
        position = self.recorded.before_last_deploy
        self.question(f"Model {model_id} ({run}) as of position {position}, before run-4 was deployed",
                      f"get_artifacts_by_id([model], as_of={position}) and get_history('artifact', model)")
        (then,) = store.get_artifacts_by_id([model_id], as_of=position)
        (now,) = store.get_artifacts_by_id([model_id])

        def deployment(artifact: mlmd.Artifact) -> str:
            value = artifact.custom_properties.get("deployment")
            return str(plain(value)) if value is not None else "-"

        self.table([{"read": f"as_of={position}", "deployment": deployment(then)},
                    {"read": "now", "deployment": deployment(now)}])
        self.line("")
        rows = []
        for version in store.get_history("artifact", model_id):
            rows.append({"valid_from": version.valid_from, "valid_to": version.valid_to,
                         "op": version.change.payload, "service": version.change.service,
                         "at": fmt_time(version.change.time_ms), "deployment": deployment(version.node)})
        self.table(rows)

    def picture(self, picture: LineagePicture, mermaid_path: str) -> None:
        self.line("")
        self.line(f"Lineage of model {picture.root} (upstream; nodes met twice are shown once)")
        for text in picture.tree():
            self.line("  " + text)
        with open(mermaid_path, "w", encoding="utf-8") as out:
            out.write(picture.mermaid())
        self.line("")
        self.line(f"Mermaid flowchart of the same lineage: {mermaid_path}")


def explore_hints(db: str, model_id: int, position: int) -> list[str]:
    """Commands a reader can try next on the demo's database."""
    return [
        "Explore it yourself:",
        f"  mlmd-log ui --db {db}    (the lineage explorer, in a browser)",
        f"  mlmd-log lineage --db {db} --artifact {model_id}",
        f"  mlmd-log history --db {db} artifact {model_id}",
        f"  mlmd-log ops --db {db} --after {max(position - 8, -1)}",
        f'  mlmd-log sql --db {db} "SELECT name, last_known_state FROM executions"',  # noqa: S608  # shown, not run
    ]


def write_report(
    store: MetadataStore, recorded: Recorded, *, db: str, mermaid_path: str, emit: Callable[[str], None],
) -> None:
    """Print every answer (a pipeline's questions), the SQL and as-of examples and the lineage picture."""
    report = Report(store, recorded, emit)
    report.overview()
    featured = "run-3"
    model_id = recorded.models[featured]
    picture = report.model_questions(model_id, featured)
    report.failed_push()
    trainer = report.producer_of(model_id)
    dataset = next(a for a in store.get_artifacts_by_id(report.input_ids(trainer.id)) if a.type == "Examples")
    report.downstream_models(dataset.id)
    report.cache_hits()
    report.context_dag("run-2")
    report.sql_example(db)
    report.as_of_example(model_id, featured)
    report.picture(picture, mermaid_path)
    emit("")
    for hint in explore_hints(db, model_id, store.log_position()):
        emit(hint)

