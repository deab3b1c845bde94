"""Regenerate the committed protobuf modules from the ``.proto`` sources in this folder.

Run ``python -m mlmd_log.schemas.generate`` after editing a ``.proto`` file and commit the result; a test
fails while the committed modules are stale. Needs ``grpcio-tools`` (the ``test`` extra).

The sources import each other under the virtual root ``mlmd_log/schemas`` (mapped onto this folder), so the
generated modules import each other as ``mlmd_log.schemas.ml_metadata.metadata_store_pb2`` and so on.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent
"""The folder holding the ``.proto`` sources and the committed generated modules."""

VIRTUAL_ROOT = "mlmd_log/schemas"
"""Import path under which the sources see this folder (the Python package ``mlmd_log.schemas``)."""

PROTO_FILES: tuple[str, ...] = (
    "ml_metadata/metadata_store.proto",
    "ml_metadata/metadata_store_service.proto",
    "v1/ops.proto",
)
"""The sources, relative to :data:`SCHEMAS_DIR`."""

GRPC_PROTO_FILES: frozenset[str] = frozenset({"ml_metadata/metadata_store_service.proto"})
"""The sources that declare a service and so get a ``*_pb2_grpc.py`` module."""


def generated_files() -> list[str]:
    """Paths (relative to :data:`SCHEMAS_DIR`) of every module :func:`generate` writes."""
    names: list[str] = []
    for proto in PROTO_FILES:
        stem = proto.removesuffix(".proto")
        names += [f"{stem}_pb2.py", f"{stem}_pb2.pyi"]
        if proto in GRPC_PROTO_FILES:
            names.append(f"{stem}_pb2_grpc.py")
    return names


_GENERATOR_STAMPS: tuple[re.Pattern[bytes], ...] = (
    re.compile(rb"^(GRPC_GENERATED_VERSION = ')[^']*(')$", re.M),
    re.compile(rb"^(# Protobuf Python Version: )\S+()$", re.M),
    re.compile(rb"(ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,)\s*\d+,\s*\d+,\s*\d+,(\s*')"),
)
"""Where the generator writes its own release (not the schema): grpcio-tools and its bundled protoc stamp these."""


def comparable(generated: bytes) -> bytes:
    """A generated module with the generator's release stamps blanked, for comparing what the schema decides.

    Two patch releases of grpcio-tools emit the same code but stamp their own version into it, so a byte
    comparison would call the committed modules stale whenever the registry serves a newer patch. The stamps
    are checked separately against the runtime versions pyproject.toml requires (tests/test_schemas_generated.py).
    """
    for stamp in _GENERATOR_STAMPS:
        generated = stamp.sub(rb"\1<generator>\2", generated)
    return generated


def generator_stamps(generated: bytes) -> dict[str, tuple[int, ...]]:
    """The release stamps in one generated module: ``{"grpc": (1, 85, 1)}`` and/or ``{"protobuf": (7, 35, 1)}``."""
    found: dict[str, tuple[int, ...]] = {}
    if grpc := re.search(rb"^GRPC_GENERATED_VERSION = '([\d.]+)'$", generated, re.M):
        found["grpc"] = tuple(int(part) for part in grpc.group(1).split(b"."))
    if proto := re.search(
        rb"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),", generated
    ):
        found["protobuf"] = tuple(int(part) for part in proto.groups())
    return found


def generate(out_dir: Path | str = SCHEMAS_DIR) -> list[Path]:
    """Run grpcio-tools' protoc over :data:`PROTO_FILES` and write the modules into ``out_dir``.

    ``out_dir`` mirrors this folder's layout (``ml_metadata/``, ``v1/``); by default it is this folder.
    Returns the written paths, in the order of :func:`generated_files`. Raises ``RuntimeError`` when protoc
    fails (its diagnostics are on stderr).
    """
    from grpc_tools import protoc  # test extra: imported only when generating

    out = Path(out_dir)
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory(prefix="mlmd-log-protoc-") as tmp:
        args = [
            "grpc_tools.protoc",
            f"--proto_path={VIRTUAL_ROOT}={SCHEMAS_DIR}",
            f"--proto_path={well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(f"{VIRTUAL_ROOT}/{proto}" for proto in PROTO_FILES),
        ]
        status = protoc.main(args)
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status}: {' '.join(args)}")
        written: list[Path] = []
        for name in generated_files():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / VIRTUAL_ROOT / name, target)
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mlmd_log.schemas.generate [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m mlmd_log.schemas.generate", description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=SCHEMAS_DIR, help="folder to write into (default: the schemas package)"
    )
    options = parser.parse_args(argv)
    for path in generate(options.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
