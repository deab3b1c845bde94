"""The MLMD reference workload (``bench/mlmd_workload.py``) runs under ml-metadata 1.17.1 at a tiny scale.

Every benchmark divides by the figures this workload measures, so a run must produce every key the
benchmarks read (those of the committed reference results) on both MLMD backends, and its row counts must
describe the data set the benchmarks rebuild on our side. Timings are not asserted (``bench/`` measures).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, run_reference

pytestmark = pytest.mark.mlmd

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "bench" / "mlmd_reference_driver.py"
RESULTS = ROOT / "bench" / "results"
BACKENDS = ("fake", "sqlite")
N = 2_000  # scale 0.02: 2,000 base artifacts, 200 context members, 200 DAG executions, 100 single puts


def _drive(*args: str) -> dict[str, Any]:
    """The driver's JSON document; it runs the default workload (no ``--workload``)."""
    try:
        done = run_reference(DRIVER, *args, timeout=600)
    except ReferenceUnavailableError as err:
        pytest.skip(f"ml-metadata {MLMD_VERSION} reference venv unavailable: {err}")
    except subprocess.CalledProcessError as err:
        pytest.fail(f"the reference driver failed:\n{err.stderr.decode(errors='replace')}")
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _committed_keys(results_file: str) -> set[str]:
    """The reference keys a committed results file holds for its SQLite backend (what benchmarks read)."""
    reference = json.loads((RESULTS / results_file).read_text())["reference"]
    return set(reference["results"]["sqlite"])


@pytest.fixture(scope="module")
def full() -> dict[str, Any]:
    return _drive("--parts", "full", "--n", str(N))


def test_full_workload_has_every_key_the_read_and_lineage_benchmarks_read(full: dict[str, Any]) -> None:
    assert full["version"] == MLMD_VERSION
    assert full["parts"] == "full"
    wanted = _committed_keys("reads.json") | _committed_keys("lineage.json")
    for backend in BACKENDS:
        got = full["results"][backend]
        assert wanted <= set(got), f"{backend} lacks {sorted(wanted - set(got))}"
        timings = [k for k in wanted if k.endswith(("_ms", "_s", "_per_s"))]
        assert all(got[k] is not None and got[k] > 0 for k in timings), backend


def test_full_workload_counts_describe_the_benchmarks_data_set(full: dict[str, Any]) -> None:
    base, members, executions = N, N // 10, N // 10
    chain_artifacts = 50 + 50
    dag_outputs = list(range(executions))  # artifact 30,000,000 + k has day k % 1000
    day_over_500 = sum(i % 1000 > 500 for i in range(base)) + sum(k % 1000 > 500 for k in dag_outputs)
    for backend in BACKENDS:
        got = full["results"][backend]
        total = base + chain_artifacts + executions
        assert got["c_get_artifacts_by_type_n"] == total
        assert got["e_paged_all_n"] == total
        assert got["e_pages"] == -(-total // 100)
        assert got["c_filter_gt500_n"] == day_over_500
        assert got["c_get_artifacts_by_context_n"] == members
        assert got["c_filter_context_name_n"] == members
        assert got["b_dag_executions"] == executions
        # A chain step is one execution with one input and one output: upstream h hops reach h / 2 steps.
        assert got["d_lineage_chain_end_up20_nodes"] == [11, 10, 20]
        assert got["d_lineage_chain_end_up100_nodes"] == [51, 50, 100]
        # One DAG generation: the last output's execution and its 2 inputs drawn from the base artifacts.
        assert got["d_lineage_dag_last_gen_up20_nodes"] == [3, 1, 3]
        assert got["a_put_artifacts_batch1_calls"] == N // 20


def test_ingest_parts_have_every_key_the_ingest_benchmarks_read() -> None:
    ingest = _drive("--parts", "ingest", "--n", str(N), "--n-single", "20")
    assert ingest["parts"] == "ingest"
    wanted = _committed_keys("mlmd_reference.json") | _committed_keys("producer.json")
    for backend in BACKENDS:
        got = ingest["results"][backend]
        assert wanted <= set(got), f"{backend} lacks {sorted(wanted - set(got))}"
        assert got["c_get_artifacts_by_type_n"] == N
