"""Applies validated OpenLineage events to the store as MLMD put-operations (mapping: :mod:`.openlineage_map`).

One event becomes one atomic op (``put_execution`` for a RunEvent, ``put_artifacts`` for a DatasetEvent,
``put_lineage_subgraph`` for a JobEvent), plus a ``put_parent_contexts`` op when a run names a parent
job not yet linked. What the op must contain depends on what the store already holds (the run's
execution, the datasets' artifacts, the events already recorded), so events are applied one at a time,
each read after the previous one was applied (``wait=True``): START and COMPLETE of a run arriving in
either order end in the same execution. A retried event is recognized by its derived op id and appends
nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from mlmd_log.errors import NotFoundError
from mlmd_log.grpc.store import SharedStore
from mlmd_log.http import openlineage_map as m
from mlmd_log.http.openlineage_schema import event_time_ms, validate
from mlmd_log.producer.acting import acting_as
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.store import MetadataStore

_INPUT, _OUTPUT = mlmd.Event.INPUT, mlmd.Event.OUTPUT
#: Fields the store sets (output only): cleared from a stored node before it is put back as an update.
_OUTPUT_ONLY = ("create_time_since_epoch", "last_update_time_since_epoch", "type")


def _for_update(node: Any) -> None:
    for field in _OUTPUT_ONLY:
        if node.DESCRIPTOR.fields_by_name.get(field) is not None:
            node.ClearField(field)


class Ingestor:
    """Turns OpenLineage events into ops on ``store``, stamped with the principal that sent them."""

    def __init__(self, store: MetadataStore, shared: SharedStore) -> None:
        self._store = store
        self._shared = shared
        self._lock = threading.Lock()
        self._type_ids: dict[str, int] | None = None

    def ingest(self, event: Any, principal: str | None = None) -> bool:
        """Validate and apply one event; False when it was applied before (a retry: nothing appended)."""
        kind = validate(event)
        main_id, parent_id = m.op_ids(event)
        with self._lock:
            r = self._shared.reader()
            if r.get_op_position(main_id) is not None:
                self._link_parent(r, event, principal, parent_id)  # a retry after a crash between the two ops
                return False
            types = self._types(principal)
            with acting_as(principal, main_id):
                if kind == "RunEvent":
                    self._run(r, event, types)
                elif kind == "DatasetEvent":
                    self._dataset(r, event, types)
                else:
                    self._job(r, event, types)
            self._link_parent(r, event, principal, parent_id)
        return True

    # -- types ------------------------------------------------------------------------------------------

    def _types(self, principal: str | None) -> dict[str, int]:
        if self._type_ids is not None:
            return self._type_ids
        r = self._shared.reader()
        found: dict[str, int] = {}
        wanted: list[tuple[str, Any, str]] = [
            (m.DATASET_TYPE, mlmd.ArtifactType(name=m.DATASET_TYPE, properties={
                "namespace": mlmd.STRING, "name": mlmd.STRING}), "artifact"),
            (m.RUN_TYPE, mlmd.ExecutionType(name=m.RUN_TYPE, properties={
                "job_namespace": mlmd.STRING, "job_name": mlmd.STRING}), "execution"),
            (m.JOB_TYPE, mlmd.ContextType(name=m.JOB_TYPE, properties={
                "namespace": mlmd.STRING, "name": mlmd.STRING}), "context"),
            (m.NAMESPACE_TYPE, mlmd.ContextType(name=m.NAMESPACE_TYPE), "context"),
        ]
        for name, message, kind in wanted:
            try:
                found[name] = getattr(r, f"get_{kind}_type")(name).id
            except NotFoundError:
                with acting_as(principal):
                    found[name] = getattr(self._store, f"put_{kind}_type")(message, can_add_fields=True, wait=True)
        self._type_ids = found
        return found

    # -- shared pieces ----------------------------------------------------------------------------------

    def _contexts(self, job: Mapping[str, Any], types: dict[str, int], parent: Mapping[str, Any] | None) -> list[mlmd.Context]:
        ns = mlmd.Context(type_id=types[m.NAMESPACE_TYPE], name=job["namespace"])
        ctx = mlmd.Context(type_id=types[m.JOB_TYPE], name=m.job_context_name(job["namespace"], job["name"]))
        ctx.properties["namespace"].string_value = job["namespace"]
        ctx.properties["name"].string_value = job["name"]
        m.merge_props(ctx.custom_properties, m.facet_values("job", job.get("facets")), True)
        out = [ns, ctx]
        if parent is not None:
            pctx = mlmd.Context(type_id=types[m.JOB_TYPE], name=m.job_context_name(parent["namespace"], parent["name"]))
            pctx.properties["namespace"].string_value = parent["namespace"]
            pctx.properties["name"].string_value = parent["name"]
            if pctx.name != ctx.name:
                out.append(pctx)
        return out

    def _artifacts(
        self, r: Reader, datasets: Sequence[tuple[Mapping[str, Any], Any]], types: dict[str, int], state: int | None,
    ) -> list[tuple[mlmd.Artifact, bool, Any]]:
        """(artifact to put, is it new, event type) per dataset; existing ones carry their id and merged facets."""
        keys = [m.dataset_key(d["namespace"], d["name"]) for d, _ in datasets]
        existing = {a.external_id: a for a in r.get_artifacts_by_external_ids(sorted(set(keys)))} if keys else {}
        out: list[tuple[mlmd.Artifact, bool, Any]] = []
        seen: set[str] = set()
        for (dataset, event_type), key in zip(datasets, keys, strict=True):
            if key in seen:
                continue  # a dataset both read and written: its first role is recorded (one new node per key)
            seen.add(key)
            facets = m.facet_values("dataset", dataset.get("facets"))
            role = "input" if event_type == _INPUT else "output"
            facets.update(m.facet_values(role, dataset.get(f"{role}Facets")))
            found = existing.get(key)
            artifact = mlmd.Artifact()
            if found is not None:
                artifact.CopyFrom(found)
                _for_update(artifact)
                found = artifact.__deepcopy__()
            else:
                artifact.type_id = types[m.DATASET_TYPE]
                artifact.name = artifact.uri = artifact.external_id = key
                artifact.properties["namespace"].string_value = dataset["namespace"]
                artifact.properties["name"].string_value = dataset["name"]
            m.merge_props(artifact.custom_properties, facets, True)
            if event_type == _OUTPUT and state == mlmd.Execution.COMPLETE:
                artifact.state = mlmd.Artifact.LIVE
            elif found is None:
                artifact.state = mlmd.Artifact.PENDING if event_type == _OUTPUT else mlmd.Artifact.LIVE
            out.append((artifact, found is None or artifact != found, event_type))
        return out

    # -- the three event kinds -------------------------------------------------------------------------

    def _run(self, r: Reader, event: Mapping[str, Any], types: dict[str, int]) -> None:
        run, job = event["run"], event["job"]
        event_type = event.get("eventType") or "OTHER"
        time_ms = event_time_ms(event["eventTime"])
        found = r.get_executions_by_external_ids([run["runId"]])
        execution = mlmd.Execution()
        if found:
            execution.CopyFrom(found[0])
            _for_update(execution)
        else:
            execution.type_id = types[m.RUN_TYPE]
            execution.name = execution.external_id = run["runId"]
            execution.properties["job_namespace"].string_value = job["namespace"]
            execution.properties["job_name"].string_value = job["name"]
        decides = m.wins(event_type, time_ms, execution)
        if decides:
            if event_type in m.STATE:
                execution.last_known_state = m.STATE[event_type]  # type: ignore[assignment]
            execution.custom_properties[m.EVENT_TYPE_PROP].string_value = event_type
            execution.custom_properties[m.EVENT_TIME_PROP].int_value = time_ms
        facets = {**m.facet_values("run", run.get("facets")), **m.facet_values("job", job.get("facets"))}
        m.merge_props(execution.custom_properties, facets, decides)
        state = m.STATE.get(event_type) if decides else None
        datasets = [(d, _INPUT) for d in event.get("inputs") or []] + [(d, _OUTPUT) for d in event.get("outputs") or []]
        known: set[tuple[int, int]] = set()
        if found:
            known = {(e.artifact_id, e.type) for e in r.get_events_by_execution_ids([execution.id])}
        pairs: list[tuple[mlmd.Artifact | None, mlmd.Event | None]] = []
        for artifact, changed, event_kind in self._artifacts(r, datasets, types, state):
            needs_event = not artifact.HasField("id") or (artifact.id, event_kind) not in known
            if changed:
                pairs.append((artifact, mlmd.Event(type=event_kind) if needs_event else None))
            elif needs_event:
                pairs.append((None, mlmd.Event(artifact_id=artifact.id, type=event_kind)))
        parent = (run.get("facets") or {}).get("parent")
        self._store.put_execution(
            execution, pairs, self._contexts(job, types, parent.get("job") if isinstance(parent, dict) else None),
            reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True, wait=True,
        )

    def _dataset(self, r: Reader, event: Mapping[str, Any], types: dict[str, int]) -> None:
        ((artifact, changed, _),) = self._artifacts(r, [(event["dataset"], _INPUT)], types, None)
        if changed:
            self._store.put_artifacts([artifact], wait=True)

    def _job(self, r: Reader, event: Mapping[str, Any], types: dict[str, int]) -> None:
        job = event["job"]
        datasets = [(d, _INPUT) for d in event.get("inputs") or []] + [(d, _OUTPUT) for d in event.get("outputs") or []]
        artifacts = [a for a, _, _ in self._artifacts(r, datasets, types, None)]
        self._store.put_lineage_subgraph(
            [], artifacts, self._contexts(job, types, None), [],
            reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True, wait=True,
        )

    def _link_parent(self, r: Reader, event: Mapping[str, Any], principal: str | None, op_id: str) -> None:
        """The parent job's context becomes a parent of the job's context (once)."""
        parent = ((event.get("run") or {}).get("facets") or {}).get("parent")
        if not isinstance(parent, dict) or not isinstance(parent.get("job"), dict):
            return
        job, pjob = event["job"], parent["job"]
        names = m.job_context_name(job["namespace"], job["name"]), m.job_context_name(pjob["namespace"], pjob["name"])
        if names[0] == names[1] or r.get_op_position(op_id) is not None:
            return
        child = r.get_context_by_type_and_name(m.JOB_TYPE, names[0])
        found = r.get_context_by_type_and_name(m.JOB_TYPE, names[1])
        if child is None or found is None:
            return
        if any(p.id == found.id for p in r.get_parent_contexts_by_context(child.id)):
            return
        with acting_as(principal, op_id):
            self._store.put_parent_contexts([mlmd.ParentContext(child_id=child.id, parent_id=found.id)], wait=True)
