"""The ml-metadata 1.17.1 reference environment, shared by the wire tests and the benchmarks.

ml-metadata 1.17.1 pins protobuf 4.x, which cannot share a process with our protobuf 7 gencode (and both
define the ``ml_metadata.*`` symbols), so the reference runs in its own venv and is driven by subprocess.
The venv lives at ``$MLMD_LOG_REF_VENV`` or ``<repo>/.cache/mlmd-1.17.1-venv``; it is created once (under a
file lock, so parallel callers wait for one another) and reused while its ready-marker names the version.

From Python (tests put this folder on ``sys.path``; benchmarks can add it)::

    from mlmd_ref import reference_python, run_reference
    python = reference_python()                 # Path of the venv's interpreter; creates the venv if needed
    done = run_reference(script, "--flag", input=b"...", timeout=600)   # CompletedProcess[bytes]

From a shell: ``python tests/mlmd_ref.py`` prints the interpreter's path (creating the venv first; exit 1
with the reason when it cannot). In Python, :class:`ReferenceUnavailableError` says why the venv cannot be
created (no registry, no Python 3.9-3.11); callers skip on it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MLMD_VERSION = "1.17.1"
"""The ml-metadata release every comparison and benchmark ratio is made against."""

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".cache" / f"mlmd-{MLMD_VERSION}-venv"
VENV_ENV = "MLMD_LOG_REF_VENV"
"""Environment variable overriding :data:`DEFAULT_VENV`."""
PYTHON_ENV = "MLMD_LOG_REF_PYTHON"
"""Environment variable naming the base interpreter for a new venv (default: this one if 3.9-3.11)."""

CONSTRAINTS = Path(__file__).resolve().parent / "mlmd-reference-constraints.txt"
"""Exact versions of ml-metadata's dependencies, so a new release of one cannot change the reference."""

_SUPPORTED = ((3, 9), (3, 10), (3, 11))  # the Python versions ml-metadata 1.17.1 publishes wheels for
_MARKER = ".mlmd-log-ready"
_INSTALL_TIMEOUT_S = 900


class ReferenceUnavailableError(RuntimeError):
    """The reference venv does not exist and cannot be created here."""


def venv_dir() -> Path:
    """Where the reference venv lives: ``$MLMD_LOG_REF_VENV`` or :data:`DEFAULT_VENV`."""
    override = os.environ.get(VENV_ENV)
    return Path(override).expanduser().resolve() if override else DEFAULT_VENV


def _venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _is_ready(path: Path) -> bool:
    marker = path / _MARKER
    return (
        _venv_python(path).exists()
        and marker.exists()
        and marker.read_text().strip() == MLMD_VERSION
    )


def _base_python() -> str:
    override = os.environ.get(PYTHON_ENV)
    if override:
        return override
    if sys.version_info[:2] in _SUPPORTED:
        return sys.executable
    for major, minor in reversed(_SUPPORTED):
        found = shutil.which(f"python{major}.{minor}")
        if found:
            return found
    raise ReferenceUnavailableError(
        f"ml-metadata {MLMD_VERSION} needs Python 3.9-3.11; set {PYTHON_ENV} to such an interpreter"
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ReferenceUnavailableError(f"{what} failed: {err}") from err
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ReferenceUnavailableError(f"{what} failed (exit {done.returncode}):\n{tail}")


def _create(path: Path) -> None:
    base = _base_python()
    if path.exists():
        shutil.rmtree(path)  # a half-built venv from an interrupted run
    try:
        _build(path, base)
    except ReferenceUnavailableError:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _build(path: Path, base: str) -> None:
    _run([base, "-m", "venv", str(path)], f"creating a venv with {base}")
    _run(
        [
            str(_venv_python(path)), "-m", "pip", "install", "--quiet", f"ml-metadata=={MLMD_VERSION}",
            "--constraint", str(CONSTRAINTS),
        ],
        f"pip install ml-metadata=={MLMD_VERSION} into {path}",
    )
    _run(
        [str(_venv_python(path)), "-c", "import ml_metadata.proto.metadata_store_pb2"],
        f"importing ml_metadata in {path}",
    )
    (path / _MARKER).write_text(MLMD_VERSION + "\n")


def reference_python(path: Path | None = None) -> Path:
    """The reference venv's interpreter, creating the venv at ``path`` (default :func:`venv_dir`) if needed.

    Raises :class:`ReferenceUnavailableError` with the reason when it cannot be created.
    """
    target = path or venv_dir()
    if not _is_ready(target):
        with _locked(target):
            if not _is_ready(target):
                _create(target)
    return _venv_python(target)


def run_reference(
    script: Path | str,
    *args: str,
    input: bytes | None = None,
    timeout: float = 600,
    path: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` with the reference interpreter; stdout/stderr captured, ``check=True``.

    A failing script raises ``subprocess.CalledProcessError`` (its stderr is attached); a missing reference
    raises :class:`ReferenceUnavailableError`.
    """
    python = reference_python(path)
    return subprocess.run(
        [str(python), str(script), *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        check=True,
    )


if __name__ == "__main__":
    try:
        print(reference_python())
    except ReferenceUnavailableError as err:
        print(f"reference venv unavailable: {err}", file=sys.stderr)
        raise SystemExit(1) from err
