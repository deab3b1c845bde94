"""The deterministic mapping of OpenLineage onto MLMD: names, types, states, facets and op ids.

* A job's namespace is a context of type ``openlineage.Namespace`` named by the namespace; a job a context
  of type ``openlineage.Job`` named ``<namespace>/<job name>``. A run's execution is associated with both.
* A run is an execution of type ``openlineage.Run`` with ``external_id`` (and name) = ``runId``; its state
  comes from ``eventType``: START/RUNNING -> RUNNING, COMPLETE -> COMPLETE, FAIL -> FAILED, ABORT ->
  CANCELED (OTHER leaves it).
* A dataset is an artifact of type ``openlineage.Dataset`` whose ``external_id`` (and name and uri) is its
  key, :func:`dataset_key` of (namespace, name); an MLMD artifact with that ``external_id`` *is* that dataset.
* Facets become custom properties holding the facet as a ``struct_value``: ``run.<facet>`` and
  ``job.<facet>`` on the execution, ``job.<facet>`` on the job context, ``dataset.<facet>``,
  ``input.<facet>`` and ``output.<facet>`` on the artifact.
* Every event's ops carry op ids derived from the event's canonical JSON (:func:`op_ids`), so a retried
  event is recognized and appends nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

DATASET_TYPE: Final = "openlineage.Dataset"
RUN_TYPE: Final = "openlineage.Run"
JOB_TYPE: Final = "openlineage.Job"
NAMESPACE_TYPE: Final = "openlineage.Namespace"

#: The execution state each eventType sets (OTHER sets none).
STATE: Final[dict[str, int]] = {
    "START": mlmd.Execution.RUNNING, "RUNNING": mlmd.Execution.RUNNING, "COMPLETE": mlmd.Execution.COMPLETE,
    "FAIL": mlmd.Execution.FAILED, "ABORT": mlmd.Execution.CANCELED,
}
#: Which event decides a run's state: a terminal one over START/RUNNING over OTHER, then the later eventTime.
RANK: Final[dict[str, int]] = {"OTHER": 0, "START": 1, "RUNNING": 1, "COMPLETE": 2, "FAIL": 2, "ABORT": 2}

#: Custom properties that record which event decided the run's state (and so its facets on a conflict).
EVENT_TYPE_PROP: Final = "openlineage.eventType"
EVENT_TIME_PROP: Final = "openlineage.eventTime"

_OP_NAMESPACE: Final = uuid.UUID("6f1c3c2e-8a55-5d1e-9a3b-0e6b1d7f4c21")


def dataset_key(namespace: str, name: str) -> str:
    """A dataset's identity as an artifact ``external_id``: namespace and name joined by one ``/``.

    ``("s3://bucket", "data/train.csv")`` -> ``s3://bucket/data/train.csv``;
    ``("postgres://db:5432", "shop.public.orders")`` -> ``postgres://db:5432/shop.public.orders``.
    """
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


def job_context_name(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def op_ids(event: Mapping[str, Any]) -> tuple[str, str]:
    """The op ids of an event's two possible ops (its put and its parent link), from its canonical JSON."""
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return str(uuid.uuid5(_OP_NAMESPACE, digest)), str(uuid.uuid5(_OP_NAMESPACE, digest + ":parent"))


def facet_values(prefix: str, facets: Mapping[str, Any] | None) -> dict[str, mlmd.Value]:
    """Facets as custom property values (``<prefix>.<facet name>`` -> struct_value)."""
    out: dict[str, mlmd.Value] = {}
    for name, facet in (facets or {}).items():
        value = mlmd.Value()
        if isinstance(facet, dict):
            value.struct_value.update(facet)
        else:
            value.string_value = json.dumps(facet)
        out[f"{prefix}.{name}"] = value
    return out


def wins(new_type: str, new_time_ms: int, node: mlmd.Execution) -> bool:
    """Whether an event of ``new_type`` at ``new_time_ms`` decides the state over what ``node`` records."""
    props = node.custom_properties
    if EVENT_TYPE_PROP not in props:
        return True
    old = (RANK.get(props[EVENT_TYPE_PROP].string_value, 0), props[EVENT_TIME_PROP].int_value)
    return (RANK.get(new_type, 0), new_time_ms) > old


def merge_props(target: Any, new: Mapping[str, mlmd.Value], override: bool) -> bool:
    """Merge ``new`` into the map ``target``: all of it when ``override``, else only keys it lacks. Changed?"""
    changed = False
    for key, value in new.items():
        if key in target and (not override or target[key] == value):
            continue
        target[key].CopyFrom(value)
        changed = True
    return changed
