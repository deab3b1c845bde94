"""Validation of OpenLineage events (spec 2-0-x) with ``jsonschema`` against a JSON Schema document.

The document below states the spec's structure as this server checks it: the three event kinds, their
required fields (``eventTime``, ``producer``, ``schemaURL``; a RunEvent's ``run.runId`` (a UUID) and
``job.namespace``/``job.name``; a DatasetEvent's ``dataset``; a JobEvent's ``job``), datasets as
``namespace`` + ``name``, facets as objects carrying ``_producer`` and ``_schemaURL``, and the ``parent`` run
facet's ``run.runId`` and ``job`` (the mapping reads them). Facet contents are
open (custom facets are allowed by the spec). openlineage-python ships the spec as generated classes, not as
the JSON document, so the schema is written here from the spec rather than loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from jsonschema import Draft202012Validator, FormatChecker

from mlmd_log.errors import InvalidArgumentError

EventKind = Literal["RunEvent", "DatasetEvent", "JobEvent"]

_FACET: Final = {"type": "object", "required": ["_producer", "_schemaURL"],
                 "properties": {"_producer": {"type": "string"}, "_schemaURL": {"type": "string"}}}
_FACETS: Final = {"type": "object", "additionalProperties": {"$ref": "#/$defs/Facet"}}
_NAME: Final = {"type": "string", "minLength": 1}
_DATASET_PROPS: Final = {"namespace": _NAME, "name": _NAME, "facets": _FACETS}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "Facet": _FACET,
        "BaseEvent": {
            "type": "object",
            "required": ["eventTime", "producer", "schemaURL"],
            "properties": {"eventTime": {"type": "string", "minLength": 10}, "producer": _NAME, "schemaURL": _NAME},
        },
        "Run": {"type": "object", "required": ["runId"],
                "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": {
                    **_FACETS, "properties": {"parent": {"$ref": "#/$defs/ParentRunFacet"}}}}},
        # The parent run facet is read by the mapping (parent job context), so its shape is checked.
        "ParentRunFacet": {"allOf": [{"$ref": "#/$defs/Facet"}, {
            "type": "object", "required": ["run", "job"],
            "properties": {
                "run": {"type": "object", "required": ["runId"],
                        "properties": {"runId": {"type": "string", "format": "uuid"}}},
                "job": {"type": "object", "required": ["namespace", "name"],
                        "properties": {"namespace": _NAME, "name": _NAME}},
            },
        }]},
        "Job": {"type": "object", "required": ["namespace", "name"],
                "properties": {"namespace": _NAME, "name": _NAME, "facets": _FACETS}},
        "InputDataset": {"type": "object", "required": ["namespace", "name"],
                         "properties": {**_DATASET_PROPS, "inputFacets": _FACETS}},
        "OutputDataset": {"type": "object", "required": ["namespace", "name"],
                          "properties": {**_DATASET_PROPS, "outputFacets": _FACETS}},
        "StaticDataset": {"type": "object", "required": ["namespace", "name"], "properties": _DATASET_PROPS},
        "RunEvent": {"allOf": [{"$ref": "#/$defs/BaseEvent"}, {
            "type": "object", "required": ["run", "job"],
            "properties": {
                "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                "run": {"$ref": "#/$defs/Run"}, "job": {"$ref": "#/$defs/Job"},
                "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
                "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
            },
        }]},
        "DatasetEvent": {"allOf": [{"$ref": "#/$defs/BaseEvent"}, {
            "type": "object", "required": ["dataset"], "properties": {"dataset": {"$ref": "#/$defs/StaticDataset"}},
        }]},
        "JobEvent": {"allOf": [{"$ref": "#/$defs/BaseEvent"}, {
            "type": "object", "required": ["job"],
            "properties": {
                "job": {"$ref": "#/$defs/Job"},
                "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
                "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
            },
        }]},
    },
}

_VALIDATORS: Final = {
    kind: Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{kind}"}, format_checker=FormatChecker())
    for kind in ("RunEvent", "DatasetEvent", "JobEvent")
}


def event_kind(event: Any) -> EventKind:
    """Which event ``event`` is: a run, a dataset or a job event (as Marquez tells them apart)."""
    if not isinstance(event, dict):
        raise InvalidArgumentError("an OpenLineage event is a JSON object")
    if "run" in event:
        return "RunEvent"
    if "dataset" in event:
        return "DatasetEvent"
    if "job" in event:
        return "JobEvent"
    raise InvalidArgumentError("not an OpenLineage RunEvent (run, job), DatasetEvent (dataset) or JobEvent (job)")


def validate(event: Any) -> EventKind:
    """The event's kind, once it is valid; InvalidArgumentError with the first violation otherwise."""
    kind = event_kind(event)
    error = next(iter(sorted(_VALIDATORS[kind].iter_errors(event), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "event"
        raise InvalidArgumentError(f"invalid OpenLineage {kind}: {where}: {error.message}")
    event_time_ms(event["eventTime"])
    return kind


def event_time_ms(text: str) -> int:
    """``eventTime`` (ISO 8601 with a timezone, as the spec's date-time) in ms since the epoch."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise InvalidArgumentError(f"invalid OpenLineage event: eventTime {text!r} is not an ISO 8601 date-time") from err
    if moment.tzinfo is None:
        raise InvalidArgumentError(f"invalid OpenLineage event: eventTime {text!r} has no timezone")
    return int(moment.timestamp() * 1000)
