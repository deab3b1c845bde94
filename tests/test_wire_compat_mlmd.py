"""Our ``ml_metadata`` messages are wire-compatible with ml-metadata 1.17.1's, both ways.

ml-metadata runs in its own venv (``mlmd_ref.py``); one subprocess call (``mlmd_ref_worker.py``) parses our
bytes with MLMD's classes, builds the same cases with MLMD's classes, and dumps MLMD's descriptors. The cases
(``mlmd_wire_cases.py``) are built by the same code on both sides.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.message import Message
from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, run_reference
from mlmd_wire_cases import all_cases, bytes_are_canonical, report

from mlmd_log.proto import metadata_store_pb2, metadata_store_service_pb2, metadata_store_service_pb2_grpc

pytestmark = pytest.mark.mlmd

WORKER = Path(__file__).with_name("mlmd_ref_worker.py")
CASES: dict[str, Message] = dict(all_cases(metadata_store_pb2, metadata_store_service_pb2))
OUR_MODULES = {
    "metadata_store_pb2": metadata_store_pb2,
    "metadata_store_service_pb2": metadata_store_service_pb2,
    "metadata_store_service_pb2_grpc": metadata_store_service_pb2_grpc,
}
# Aliases the generator gives imported modules (named after each file's own path, so they differ).
_IMPORT_ALIAS = re.compile(r"_dot_")


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """MLMD's answers for every case, from one run of the worker in the reference venv."""
    request = {
        "forward": [
            {
                "name": name,
                "type": message.DESCRIPTOR.full_name,
                "data": base64.b64encode(message.SerializeToString()).decode(),
            }
            for name, message in CASES.items()
        ]
    }
    try:
        done = run_reference(WORKER, input=json.dumps(request).encode(), timeout=600)
    except ReferenceUnavailableError as err:
        pytest.skip(f"ml-metadata {MLMD_VERSION} reference venv unavailable: {err}")
    except subprocess.CalledProcessError as err:
        pytest.fail(f"the reference worker failed:\n{err.stderr.decode(errors='replace')}")
    answer: dict[str, Any] = json.loads(done.stdout)
    answer["forward"] = {item["name"]: item for item in answer["forward"]}
    answer["reverse"] = {item["name"]: item for item in answer["reverse"]}
    return answer


def _our_class(full_name: str) -> type[Message]:
    for module in (metadata_store_pb2, metadata_store_service_pb2):
        found: Any = module
        for part in full_name.split(".")[1:]:
            found = getattr(found, part, None)
        if found is not None:
            return found  # type: ignore[no-any-return]
    raise KeyError(full_name)


def _file_proto(descriptor: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    return proto


def _normalized(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, Any]:
    """What must match: messages, enums, extensions, services; not file names, imports or file options."""
    for service in proto.service:
        for method in service.method:
            if method.options.ByteSize() == 0:
                method.ClearField("options")
    return {
        "package": proto.package,
        "syntax": proto.syntax or "proto2",
        "message_type": {m.name: m for m in proto.message_type},
        "enum_type": {e.name: e for e in proto.enum_type},
        "extension": {x.name: x for x in proto.extension},
        "service": {s.name: s for s in proto.service},
    }


def test_reference_is_ml_metadata_1_17_1(reference: dict[str, Any]) -> None:
    assert reference["versions"]["ml_metadata"] == MLMD_VERSION


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (metadata_store_pb2, "ml_metadata/proto/metadata_store.proto"),
        (metadata_store_service_pb2, "ml_metadata/proto/metadata_store_service.proto"),
    ],
    ids=["metadata_store", "metadata_store_service"],
)
def test_descriptors_equal_mlmd_for_every_message_field_enum_extension_and_rpc(
    reference: dict[str, Any], ours: Any, theirs: str
) -> None:
    mine = _normalized(_file_proto(ours.DESCRIPTOR))
    other = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(reference["descriptors"][theirs]))
    mlmd = _normalized(other)
    for key in ("package", "syntax"):
        assert mine[key] == mlmd[key], key
    for key in ("message_type", "enum_type", "extension", "service"):
        assert sorted(mine[key]) == sorted(mlmd[key]), f"{key} names differ"
        for name, proto in mlmd[key].items():
            # Full equality: names, numbers, labels, types, type names, defaults, oneofs, options, nesting.
            assert mine[key][name] == proto, f"{key} {name} differs:\nours:\n{mine[key][name]}\nmlmd:\n{proto}"
    assert [m.name for m in other.message_type] == list(mine["message_type"]), "declaration order differs"


@pytest.mark.parametrize("module", sorted(OUR_MODULES))
def test_mlmd_log_proto_offers_every_public_name_of_ml_metadata_proto(
    reference: dict[str, Any], module: str
) -> None:
    ours = set(dir(OUR_MODULES[module]))
    missing = [
        name for name in reference["public_names"][module] if name not in ours and not _IMPORT_ALIAS.search(name)
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_mlmd_parses_our_bytes_to_the_same_fields_and_bytes(reference: dict[str, Any], name: str) -> None:
    message = CASES[name]
    ours = report(message)
    theirs = reference["forward"][name]
    assert theirs["describe"] == ours["describe"]
    assert theirs["dict"] == ours["dict"]
    assert theirs["text"] == ours["text"]
    assert theirs["byte_size"] == ours["byte_size"]
    # MLMD's re-serialization parses back with our classes to an equal message, byte-identical where
    # deterministic serialization is canonical.
    back = type(message).FromString(base64.b64decode(theirs["deterministic"]))
    assert back == message
    if bytes_are_canonical(message):
        assert theirs["deterministic"] == ours["deterministic"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_messages_built_by_mlmd_decode_identically_with_ours(reference: dict[str, Any], name: str) -> None:
    theirs = dict(reference["reverse"][name])
    del theirs["name"]
    decoded = _our_class(theirs["type"]).FromString(base64.b64decode(theirs["deterministic"]))
    ours = report(decoded)
    if not bytes_are_canonical(decoded):
        del ours["deterministic"], theirs["deterministic"]
    assert ours == theirs
    # The same building code gives the same message with either set of classes.
    assert decoded == CASES[name]
