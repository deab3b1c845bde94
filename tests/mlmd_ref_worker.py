"""Runs inside the ml-metadata 1.17.1 reference venv (see ``mlmd_ref.py``); one call answers everything.

stdin: JSON ``{"forward": [{"name", "type", "data"}...]}`` where ``data`` is base64 of bytes serialized by
mlmd-log. stdout: JSON with

- ``versions``: ml-metadata and protobuf versions in the reference venv;
- ``descriptors``: base64 ``FileDescriptorProto`` of MLMD's two proto files;
- ``forward``: for each input, what MLMD's classes parsed (``mlmd_wire_cases.report``);
- ``reverse``: every case of ``mlmd_wire_cases.all_cases`` built with MLMD's classes, as reported;
- ``public_names``: the public names of ``ml_metadata.proto``'s three modules.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import google.protobuf
import ml_metadata
from google.protobuf import descriptor_pb2
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2, metadata_store_service_pb2_grpc
from mlmd_wire_cases import all_cases, report


def _message_class(full_name: str) -> Any:
    found: Any = None
    for module in (metadata_store_pb2, metadata_store_service_pb2):
        found = module
        for part in full_name.split(".")[1:]:
            found = getattr(found, part, None)
            if found is None:
                break
        if found is not None:
            return found
    raise KeyError(full_name)


def _file_descriptor(module: Any) -> str:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return base64.b64encode(proto.SerializeToString(deterministic=True)).decode()


def main() -> None:
    request = json.load(sys.stdin)
    forward = []
    for item in request["forward"]:
        message = _message_class(item["type"])()
        message.ParseFromString(base64.b64decode(item["data"]))
        forward.append({"name": item["name"], **report(message)})
    reverse = [
        {"name": name, **report(message)}
        for name, message in all_cases(metadata_store_pb2, metadata_store_service_pb2)
    ]
    json.dump(
        {
            "versions": {"ml_metadata": ml_metadata.__version__, "protobuf": google.protobuf.__version__},
            "descriptors": {
                module.DESCRIPTOR.name: _file_descriptor(module)
                for module in (metadata_store_pb2, metadata_store_service_pb2)
            },
            "forward": forward,
            "reverse": reverse,
            "public_names": {
                module.__name__.rsplit(".", 1)[-1]: sorted(n for n in dir(module) if not n.startswith("_"))
                for module in (metadata_store_pb2, metadata_store_service_pb2, metadata_store_service_pb2_grpc)
            },
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
