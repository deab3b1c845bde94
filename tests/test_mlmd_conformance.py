"""MLMD 1.17.1's own test suite (``metadata_store_test.py`` from the wheel) against our gRPC server over Kafka.

The server runs as its own process (``python -m mlmd_log.grpc``) on a Kafka store (the session's
broker, tansu by default), exactly as a deployment would; the suite runs in the reference venv
(``tests/mlmd_ref.py``), by path so that its conftest registers ``--use_grpc_backend``. The whole suite
shares the one server (it uses unique type names).

``docs/compatibility.md`` is the contract: this test fails when fewer tests pass than the count it states,
or when a test fails that it does not list with its reason.
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, reference_python

REPO = Path(__file__).resolve().parents[1]
COMPATIBILITY = REPO / "docs" / "compatibility.md"
SUITE_TIMEOUT_S = 900

pytestmark = pytest.mark.mlmd


def _reference_with_pytest() -> Path:
    """The reference interpreter with pytest installed next to ml-metadata (installed once, under a lock)."""
    try:
        python = reference_python()
    except ReferenceUnavailableError as err:
        pytest.skip(f"the ml-metadata {MLMD_VERSION} reference venv cannot be created here: {err}")
    if subprocess.run([str(python), "-c", "import pytest"], capture_output=True, check=False).returncode == 0:
        return python
    with open(python.parents[1] / ".pytest-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run([str(python), "-c", "import pytest"], capture_output=True, check=False).returncode != 0:
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "pytest>=8,<9"],
                capture_output=True, text=True, timeout=600, check=False,
            )
            if done.returncode != 0:
                pytest.skip(f"cannot install pytest into the reference venv: {done.stderr.strip()[-500:]}")
    return python


@pytest.fixture
def server_port(kafka_broker: object, tmp_path: Path) -> Iterator[int]:
    """Our server as a process over a fresh Kafka topic; yields its port, stops it with SIGTERM."""
    port_file = tmp_path / "port"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115  # closed below, after the process
    topic = f"mlmd-conformance-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmd_log.grpc", "--log", kafka_broker.url(topic),  # type: ignore[attr-defined]
         "--db", str(tmp_path / "projection.duckdb"), "--port", "0", "--port-file", str(port_file)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            time.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _documented() -> tuple[int, set[str]]:
    """The pass count ``docs/compatibility.md`` promises and the failing tests it explains."""
    text = COMPATIBILITY.read_text()
    found = re.search(r"Passing: \*\*(\d+)\*\*", text)
    assert found, "docs/compatibility.md must state 'Passing: **N**'"
    return int(found.group(1)), set(re.findall(r"`(test_[A-Za-z0-9_]+)`", text))


def _outcomes(junit: Path) -> dict[str, str]:
    """Test name -> passed / failed / skipped, from pytest's JUnit XML."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        out[case.attrib["name"]] = outcome
    return out


def test_mlmd_suite_against_our_server(server_port: int, tmp_path: Path) -> None:
    python = _reference_with_pytest()
    suite_dir = subprocess.run(
        [str(python), "-c", "import os, ml_metadata.metadata_store as m; print(os.path.dirname(m.__file__))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    work = tmp_path / "suite"
    work.mkdir()
    (work / "pytest.ini").write_text("[pytest]\n")  # keep this repository's conftest and options out
    junit = work / "junit.xml"
    started = time.monotonic()
    done = subprocess.run(
        [str(python), "-m", "pytest", f"{suite_dir}/metadata_store_test.py", "--use_grpc_backend",
         "--grpc_host", "127.0.0.1", "--grpc_port", str(server_port),
         "-c", str(work / "pytest.ini"), "--rootdir", str(work), "-p", "no:cacheprovider",
         f"--junitxml={junit}", "-q", "--tb=line"],
        cwd=work, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S, check=False,
    )
    elapsed = time.monotonic() - started
    assert junit.exists(), f"the suite did not run:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outcomes = _outcomes(junit)
    passed = sorted(n for n, o in outcomes.items() if o == "passed")
    failed = sorted(n for n, o in outcomes.items() if o == "failed")
    promised, explained = _documented()
    summary = f"{len(passed)} passed, {len(failed)} failed of {len(outcomes)} in {elapsed:.0f} s"
    print(summary)
    print("failed:", " ".join(failed) or "none")
    undocumented = [n for n in failed if re.sub(r"\d+$", "", n) not in explained and n not in explained]
    assert not undocumented, f"{summary}; failures not explained in docs/compatibility.md: {undocumented}\n" + (
        done.stdout[-6000:]
    )
    assert len(passed) >= promised, f"{summary}; docs/compatibility.md promises {promised}:\n{done.stdout[-6000:]}"
