"""The demo's pipeline: a TFX-shaped ML pipeline recorded through MLMD's write API, as an orchestrator would.

Four runs of the pipeline ``taxi`` (ExampleGen -> StatisticsGen -> Transform ->
Trainer -> Evaluator -> Pusher), each with its own ``PipelineRun`` context whose
parent is the ``Pipeline`` context:

* ``run-1`` trains on span 1 and is pushed to serving;
* ``run-2`` trains on span 2 with another learning rate; its push **fails**;
* ``run-3`` is a partial run started at Transform that reuses run-2's data with a
  lower learning rate: its Transform has the same inputs and parameters as
  run-2's, so the orchestrator's cache check finds a hit and records it
  **CACHED**, reusing the earlier outputs; its model is pushed;
* ``run-4`` trains on span 3 with upgraded TensorFlow and TFX and is pushed.

Before each step the recorder asks the store whether an earlier execution of the
same type ran on the same input artifacts with the same parameters
(:func:`find_cache_hit`): the "cache hit" question is answered by reads, not by
the simulator's memory. A successful push marks the pushed model
``deployment=serving`` and the model it replaces ``retired`` (an update the
demo later reads *as of* a past log position).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from google.protobuf.internal.containers import MessageMap

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc
from mlmd_log.store import MetadataStore

PIPELINE: Final = "taxi"
#: The steps of one full run, in order.
STEPS: Final = ("ExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator", "Pusher")
#: Execution states that produced usable outputs (a cache hit may reuse them).
REUSABLE: Final = (mlmd.Execution.COMPLETE, mlmd.Execution.CACHED)

PropertyValue = int | float | str


@dataclass(frozen=True)
class RunSpec:
    """One pipeline run: its data span, hyperparameters, library versions, and what happens to it."""

    name: str
    span: int
    learning_rate: float
    epochs: int
    tensorflow: str
    tfx: str
    #: A partial run starting at Transform that reuses this earlier run's data (TFX partial runs).
    reuses_data_of: str | None = None
    push_fails: bool = False


RUNS: Final = (
    RunSpec("run-1", span=1, learning_rate=0.1, epochs=10, tensorflow="2.15.1", tfx="1.15.0"),
    RunSpec("run-2", span=2, learning_rate=0.05, epochs=10, tensorflow="2.15.1", tfx="1.15.0", push_fails=True),
    RunSpec("run-3", span=2, learning_rate=0.02, epochs=20, tensorflow="2.15.1", tfx="1.15.0",
            reuses_data_of="run-2"),
    RunSpec("run-4", span=3, learning_rate=0.02, epochs=20, tensorflow="2.16.1", tfx="1.16.0"),
)
#: The evaluation accuracy each run's model reaches (all above the 0.8 threshold, so all blessed).
ACCURACY: Final = {"run-1": 0.81, "run-2": 0.84, "run-3": 0.86, "run-4": 0.88}
PUSH_ERROR: Final = "UNAVAILABLE: serving endpoint taxi-serving:8500 timed out after 60 s"


@dataclass
class Recorded:
    """What the simulation wrote, by name, so the report can ask questions about it."""

    pipeline_id: int = 0
    run_ids: dict[str, int] = field(default_factory=dict)
    #: Model artifact ids by run.
    models: dict[str, int] = field(default_factory=dict)
    #: The log position just before the last deployment changed the models (for the as-of example).
    before_last_deploy: int = -1


def _set(props: MessageMap[str, mlmd.Value], values: Mapping[str, PropertyValue]) -> None:
    """Write plain Python values into a protobuf property map (int, float or str)."""
    for name, value in values.items():
        slot = props[name]
        if isinstance(value, int):
            slot.int_value = int(value)
        elif isinstance(value, float):
            slot.double_value = value
        else:
            slot.string_value = value


def plain(value: mlmd.Value) -> PropertyValue | None:
    """A property ``Value`` as a plain Python value (None when unset)."""
    which = value.WhichOneof("value")
    if which == "int_value":
        return int(value.int_value)
    if which == "double_value":
        return float(value.double_value)
    if which == "string_value":
        return str(value.string_value)
    return None


def properties_of(node: mlmd.Execution | mlmd.Artifact | mlmd.Context) -> dict[str, PropertyValue | None]:
    """A node's declared properties as plain values."""
    return {name: plain(value) for name, value in node.properties.items()}


def _path(key: str) -> mlmd.Event.Path:
    """TFX's event path: the input/output key and the index within it."""
    return mlmd.Event.Path(steps=[mlmd.Event.Path.Step(key=key), mlmd.Event.Path.Step(index=0)])


def find_cache_hit(
    store: MetadataStore, execution_type: str, input_ids: Sequence[int],
    properties: dict[str, PropertyValue | None], *, before: int | None = None,
) -> mlmd.Execution | None:
    """The earliest finished execution of ``execution_type`` with exactly these input artifacts and properties.

    This is the cache-hit question ("has this execution run on the same inputs before?") asked through the
    read API: the executions of the type, then their INPUT events. ``before`` excludes executions created at
    or after that execution id's creation (so an execution does not match itself or later ones).
    """
    candidates = [
        e for e in store.get_executions_by_type(execution_type)
        if e.last_known_state in REUSABLE and properties_of(e) == properties
    ]
    if before is not None:
        (limit,) = store.get_executions_by_id([before])
        # Creation order: time, then id (ids from one producer's lease grow in the order they are handed out).
        candidates = [
            e for e in candidates
            if (e.create_time_since_epoch, e.id) < (limit.create_time_since_epoch, limit.id)
        ]
    if not candidates:
        return None
    inputs: dict[int, set[int]] = {e.id: set() for e in candidates}
    for event in store.get_events_by_execution_ids(list(inputs)):
        if event.type == mlmd.Event.INPUT:
            inputs[event.execution_id].add(event.artifact_id)
    wanted = set(input_ids)
    hits = [e for e in candidates if inputs[e.id] == wanted]
    return min(hits, key=lambda e: (e.create_time_since_epoch, e.id)) if hits else None


def output_artifacts(store: MetadataStore, execution_id: int) -> list[tuple[str, mlmd.Artifact]]:
    """An execution's output artifacts with the key of each output (from the event path)."""
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == mlmd.Event.OUTPUT]
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return [(event_key(e), by_id[e.artifact_id]) for e in events if e.artifact_id in by_id]


def event_key(event: mlmd.Event) -> str:
    """The input/output key an event's path names (``examples``, ``model``...), or ``''``."""
    for step in event.path.steps:
        if step.HasField("key"):
            return str(step.key)
    return ""


class PipelineRecorder:
    """Records the demo's pipeline runs into ``store`` the way an orchestrator (TFX) would."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.recorded = Recorded()
        self.type_ids: dict[str, int] = {}
        self._serving: int | None = None

    # -- setup ----------------------------------------------------------------------------------------

    def register_types(self) -> None:
        """Every artifact, execution and context type the pipeline uses, in one atomic ``put_types`` op."""
        request = svc.PutTypesRequest()
        artifact_types: dict[str, dict[str, mlmd.PropertyType]] = {
            "Examples": {"span": mlmd.INT, "split_names": mlmd.STRING},
            "ExampleStatistics": {"span": mlmd.INT},
            "TransformGraph": {},
            "Model": {},
            "ModelBlessing": {"blessed": mlmd.INT, "accuracy": mlmd.DOUBLE},
            "PushedModel": {"pushed_destination": mlmd.STRING, "pushed_version": mlmd.INT},
        }
        versions: dict[str, mlmd.PropertyType] = {"tensorflow_version": mlmd.STRING, "tfx_version": mlmd.STRING}
        execution_types: dict[str, dict[str, mlmd.PropertyType]] = {
            "ExampleGen": {"input_base": mlmd.STRING, "span": mlmd.INT, "tfx_version": mlmd.STRING},
            "StatisticsGen": {"tfx_version": mlmd.STRING},
            "Transform": {"module_file": mlmd.STRING, **versions},
            "Trainer": {"module_file": mlmd.STRING, "learning_rate": mlmd.DOUBLE, "epochs": mlmd.INT, **versions},
            "Evaluator": {"accuracy_threshold": mlmd.DOUBLE, "tfx_version": mlmd.STRING},
            "Pusher": {"push_destination": mlmd.STRING, "tfx_version": mlmd.STRING},
        }
        context_types: dict[str, dict[str, mlmd.PropertyType]] = {
            "Pipeline": {"pipeline_root": mlmd.STRING},
            "PipelineRun": {"trigger": mlmd.STRING},
        }
        for name, props in artifact_types.items():
            request.artifact_types.add(name=name).properties.update(props)
        for name, props in execution_types.items():
            request.execution_types.add(name=name).properties.update(props)
        for name, props in context_types.items():
            request.context_types.add(name=name).properties.update(props)
        response = self.store.put_types(request)
        names = [*artifact_types, *execution_types, *context_types]
        ids = [*response.artifact_type_ids, *response.execution_type_ids, *response.context_type_ids]
        self.type_ids = dict(zip(names, ids, strict=True))

    def create_pipeline(self) -> None:
        """The ``Pipeline`` context every run hangs under."""
        pipeline = mlmd.Context(type_id=self.type_ids["Pipeline"], name=PIPELINE)
        _set(pipeline.properties, {"pipeline_root": f"/pipelines/{PIPELINE}"})
        (self.recorded.pipeline_id,) = self.store.put_contexts([pipeline])

    # -- one run --------------------------------------------------------------------------------------

    def record_run(self, spec: RunSpec) -> None:
        """Record one run: its context (child of the pipeline), then each step with the cache check."""
        store = self.store
        run = mlmd.Context(type_id=self.type_ids["PipelineRun"], name=spec.name)
        trigger = f"partial: from Transform on {spec.reuses_data_of}'s data" if spec.reuses_data_of else "schedule"
        _set(run.properties, {"trigger": trigger})
        (run.id,) = store.put_contexts([run])
        store.put_parent_contexts([mlmd.ParentContext(child_id=run.id, parent_id=self.recorded.pipeline_id)])
        self.recorded.run_ids[spec.name] = run.id
        common = {"tfx_version": spec.tfx}

        if spec.reuses_data_of is None:
            (examples,) = self._step(spec, run, "ExampleGen", {
                "input_base": f"/data/{PIPELINE}", "span": spec.span, **common,
            }, [], lambda: [("examples", self._artifact("Examples", spec, "examples", {
                "span": spec.span, "split_names": '["train", "eval"]'}))])
            (statistics,) = self._step(spec, run, "StatisticsGen", common, [("examples", examples)],
                                       lambda: [("statistics", self._artifact(
                                           "ExampleStatistics", spec, "statistics", {"span": spec.span}))])
        else:
            # A partial run: the earlier run's data joins this run's context (as TFX's partial runs do).
            earlier = self.recorded.run_ids[spec.reuses_data_of]
            store.sync()  # read what the earlier run wrote
            reused = {a.type: a for a in store.get_artifacts_by_context(earlier)}
            examples, statistics = reused["Examples"], reused["ExampleStatistics"]
            store.put_attributions_and_associations(
                [mlmd.Attribution(artifact_id=a.id, context_id=run.id) for a in (examples, statistics)], []
            )

        versions = {"tensorflow_version": spec.tensorflow, **common}
        (graph,) = self._step(spec, run, "Transform", {"module_file": "taxi_utils.py", **versions},
                              [("examples", examples), ("statistics", statistics)],
                              lambda: [("transform_graph", self._artifact("TransformGraph", spec, "transform_graph"))])
        (model,) = self._step(spec, run, "Trainer", {
            "module_file": "taxi_trainer.py", "learning_rate": spec.learning_rate, "epochs": spec.epochs, **versions,
        }, [("examples", examples), ("transform_graph", graph)],
            lambda: [("model", self._artifact("Model", spec, "model"))])
        self.recorded.models[spec.name] = model.id
        (blessing,) = self._step(spec, run, "Evaluator", {"accuracy_threshold": 0.8, **common},
                                 [("model", model), ("examples", examples)],
                                 lambda: [("blessing", self._artifact("ModelBlessing", spec, "blessing", {
                                     "blessed": 1, "accuracy": ACCURACY[spec.name]}))])
        if spec.name == RUNS[-1].name:
            store.sync()
            self.recorded.before_last_deploy = store.log_position()
        pushed = self._step(spec, run, "Pusher", {"push_destination": f"/serving/{PIPELINE}", **common},
                            [("model", model), ("model_blessing", blessing)],
                            lambda: [("pushed_model", self._artifact("PushedModel", spec, "pushed_model", {
                                "pushed_destination": f"/serving/{PIPELINE}/{spec.name}",
                                "pushed_version": int(spec.name.rsplit("-", 1)[1]),
                            }))], fails=spec.push_fails)
        if pushed:
            self._deploy(model.id)

    # -- machinery ------------------------------------------------------------------------------------

    def _artifact(
        self, type_name: str, spec: RunSpec, key: str, props: dict[str, PropertyValue] | None = None
    ) -> mlmd.Artifact:
        artifact = mlmd.Artifact(
            type_id=self.type_ids[type_name], uri=f"/pipelines/{PIPELINE}/{spec.name}/{key}",
            state=mlmd.Artifact.LIVE,
        )
        _set(artifact.properties, props or {})
        return artifact

    def _step(
        self, spec: RunSpec, run: mlmd.Context, step: str, props: Mapping[str, PropertyValue],
        inputs: Sequence[tuple[str, mlmd.Artifact]],
        make_outputs: Callable[[], list[tuple[str, mlmd.Artifact]]], *, fails: bool = False,
    ) -> list[mlmd.Artifact]:
        """One component execution: cache check, then RUNNING with inputs, then COMPLETE/FAILED with outputs."""
        store = self.store
        execution = mlmd.Execution(
            type_id=self.type_ids[step], name=f"{spec.name}.{step}", last_known_state=mlmd.Execution.RUNNING
        )
        _set(execution.properties, props)
        input_pairs = [(a, mlmd.Event(type=mlmd.Event.INPUT, path=_path(k))) for k, a in inputs]
        store.sync()  # the cache check reads the projection: see every op written so far
        hit = find_cache_hit(store, step, [a.id for _, a in inputs], properties_of(execution))
        if hit is not None:
            # Cached: no work done; the execution is recorded with the earlier outputs (as TFX does).
            execution.last_known_state = mlmd.Execution.CACHED
            execution.custom_properties["cached_from"].int_value = hit.id
            reused = output_artifacts(store, hit.id)
            pairs = [*input_pairs, *((a, mlmd.Event(type=mlmd.Event.OUTPUT, path=_path(k))) for k, a in reused)]
            execution_id, _, _ = store.put_execution(execution, pairs, [run])
            return [a for _, a in reused]
        execution_id, _, _ = store.put_execution(execution, input_pairs, [run])
        execution.id = execution_id
        if fails:
            execution.last_known_state = mlmd.Execution.FAILED
            execution.custom_properties["error"].string_value = PUSH_ERROR
            store.put_execution(execution, [], [run])
            return []
        execution.last_known_state = mlmd.Execution.COMPLETE
        outputs = make_outputs()
        pairs = [(a, mlmd.Event(type=mlmd.Event.OUTPUT, path=_path(k))) for k, a in outputs]
        _, artifact_ids, _ = store.put_execution(execution, pairs, [run])
        for (_, artifact), artifact_id in zip(outputs, artifact_ids, strict=True):
            artifact.id = artifact_id
        return [a for _, a in outputs]

    def _deploy(self, model_id: int) -> None:
        """Mark ``model_id`` as serving and the model it replaces as retired (updates: new versions)."""
        store = self.store
        store.sync()
        changed = []
        if self._serving is not None:
            (previous,) = store.get_artifacts_by_id([self._serving])
            previous.custom_properties["deployment"].string_value = "retired"
            changed.append(previous)
        (model,) = store.get_artifacts_by_id([model_id])
        model.custom_properties["deployment"].string_value = "serving"
        changed.append(model)
        store.put_artifacts(changed)
        self._serving = model_id


def record_pipeline(store: MetadataStore) -> Recorded:
    """Record the whole demo pipeline (types, pipeline context, every run) and wait until it is projected."""
    recorder = PipelineRecorder(store)
    recorder.register_types()
    recorder.create_pipeline()
    for spec in RUNS:
        recorder.record_run(spec)
    store.sync()
    return recorder.recorded
