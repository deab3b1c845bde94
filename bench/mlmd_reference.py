"""The MLMD 1.17.1 reference, measured in the same run as our figures.

Every ratio the benchmarks report divides by figures measured here, in the same
process tree and minutes, not by figures from other runs (MLMD's usual figures on this class
of machine are shown beside them as a sanity check). ml-metadata runs in its own venv (``tests/mlmd_ref.py``
creates or reuses it) through :mod:`mlmd_reference_driver`, which imports the reference workload
script, ``bench/mlmd_workload.py`` (``$MLMD_LOG_WORKLOAD`` names another one; bench/README.md),
and runs its code with ml-metadata's.

Run alone::

    python bench/mlmd_reference.py                 # ingest parts, n=100k, in-memory + SQLite file
    python bench/mlmd_reference.py --parts full    # the whole workload (a few minutes)
    python bench/mlmd_reference.py --parts full --n 5000 --out /tmp/ref.json   # a quick check at 5% scale

Other benchmarks call :func:`reference_from_args` (with :func:`add_reference_args` on their
parser): by default it measures; ``--reference-from bench/results/mlmd_reference.json``
reuses a reference measured minutes earlier, to save time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import REPO_ROOT, TESTS_DIR, fmt, log, machine, print_table, write_results

DRIVER = Path(__file__).resolve().parent / "mlmd_reference_driver.py"
WORKLOAD = Path(__file__).resolve().parent / "mlmd_workload.py"
WORKLOAD_ENV = "MLMD_LOG_WORKLOAD"
"""Names a workload script to run instead of :data:`WORKLOAD` (same module interface and result keys)."""
BACKENDS = ("fake", "sqlite")
BACKEND_NAMES = {"fake": "MLMD in-memory", "sqlite": "MLMD SQLite file"}

#: MLMD's usual figures on this class of machine, for the "expected" column only (ratios never use these).
DESIGN_FIGURES: dict[str, tuple[float, float]] = {
    "a_put_artifacts_batch1000_per_s": (16_100, 12_300),
    "a_put_artifacts_batch1_ms_per_call": (0.10, 1.76),
    "c_get_artifacts_by_type_ms": (1_600, 1_600),
    "c_get_artifacts_by_id_1_ms": (0.03, 0.03),
    "c_get_artifacts_by_id_100_ms": (1.2, 1.2),
    "b_dag_total_s": (2.2, 2.5),
    "c_filter_gt500_ms": (19_600, 19_600),
    "c_get_artifacts_by_context_ms": (137, 137),
    "d_lineage_dag_last_gen_up20_ms": (44, 44),
    "e_paged_all_total_s": (1.5, 1.5),
}
#: Keys shown in the table, with their unit.
SHOWN: dict[str, str] = {
    "a_put_artifacts_batch1000_per_s": "put_artifacts batch 1000 (artifacts/s)",
    "a_put_artifacts_batch1_ms_per_call": "put_artifacts batch 1 (ms/call)",
    "a_put_artifacts_batch1_per_s": "put_artifacts batch 1 (artifacts/s)",
    "a_proto_build_us_per_artifact": "building one Artifact proto (us)",
    "c_get_artifacts_by_type_ms": "get_artifacts_by_type (ms)",
    "c_get_artifacts_by_id_1_ms": "get_artifacts_by_id 1 id (ms, best)",
    "c_get_artifacts_by_id_100_ms": "get_artifacts_by_id 100 ids (ms)",
    "b_dag_total_s": "10k-execution DAG (s)",
    "c_filter_gt500_ms": "filter day > 500, paged 100 (ms)",
    "c_get_artifacts_by_context_ms": "get_artifacts_by_context (ms)",
    "d_lineage_dag_last_gen_up20_ms": "lineage upstream 20 hops, DAG (ms)",
    "e_paged_all_total_s": "page through everything, 100/page (s)",
    "backend_wall_s": "wall time of this backend (s)",
}


def workload_path() -> Path:
    """The reference workload script: ``$MLMD_LOG_WORKLOAD`` when set, else ``bench/mlmd_workload.py``."""
    override = os.environ.get(WORKLOAD_ENV)
    return Path(override).expanduser() if override else WORKLOAD


def measure_reference(
    parts: str = "ingest", n: int = 100_000, n_single: int = 5_000, backends: tuple[str, ...] = BACKENDS,
    timeout_s: float = 3_600,
) -> dict[str, Any]:
    """Run the workload parts in the reference venv; ``{"version", "parts", "n", "results": {backend: ...}}``."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from mlmd_ref import run_reference

    workload = workload_path()
    if not workload.is_file():
        raise SystemExit(f"no MLMD workload script at {workload} (${WORKLOAD_ENV} names one; bench/README.md)")
    log(f"measuring MLMD reference ({parts}, n={n:,}, backends={','.join(backends)}) ...")
    t0 = time.perf_counter()
    done = run_reference(
        DRIVER, "--workload", str(workload), "--parts", parts, "--n", str(n), "--n-single", str(n_single),
        "--backends", ",".join(backends), timeout=timeout_s,
    )
    for line in done.stderr.decode(errors="replace").splitlines():
        log(f"  {line}")
    out: dict[str, Any] = json.loads(done.stdout)
    out["measured_s"] = round(time.perf_counter() - t0, 1)
    out["source"] = "measured in this run"
    return out


def add_reference_args(parser: argparse.ArgumentParser) -> None:
    """``--reference-from FILE`` and ``--reference-n`` for benchmarks that compare against MLMD."""
    parser.add_argument(
        "--reference-from", type=Path, default=None, metavar="FILE",
        help="reuse an MLMD reference JSON measured minutes earlier (default: measure it now)",
    )
    parser.add_argument(
        "--reference-n", type=int, default=100_000,
        help="artifacts MLMD puts in batches of 1000 for its reference figures (default 100k, the workload's own)",
    )


def reference_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The reference for a benchmark run: loaded from ``--reference-from``, else measured now."""
    if args.reference_from is not None:
        data: dict[str, Any] = json.loads(Path(args.reference_from).read_text())
        ref: dict[str, Any] = data.get("reference", data)  # a results file of another benchmark embeds it
        ref["source"] = f"reused from {args.reference_from}"
        log(f"MLMD reference reused from {args.reference_from}")
        return ref
    return measure_reference(n=args.reference_n)


def figure(ref: dict[str, Any], backend: str, key: str) -> float | None:
    """One reference figure, or None when that part was not measured."""
    value = ref.get("results", {}).get(backend, {}).get(key)
    return float(value) if value is not None else None


def print_reference(ref: dict[str, Any]) -> None:
    """The reference figures beside MLMD's usual ones."""
    rows = []
    for key, label in SHOWN.items():
        values = [figure(ref, b, key) for b in BACKENDS]
        if all(v is None for v in values):
            continue
        expected = DESIGN_FIGURES.get(key)
        digits = 0 if all(v is None or v >= 100 for v in values) else 3
        rows.append([
            label, *(fmt(v, digits) for v in values),
            " / ".join(fmt(e, digits) for e in expected) if expected else "",
        ])
    print_table(
        ["operation", BACKEND_NAMES["fake"], BACKEND_NAMES["sqlite"], "usual (mem / sqlite)"], rows,
        title=f"MLMD {ref.get('version')} reference ({ref.get('parts')}, n={ref.get('n'):,}; {ref.get('source')})",
    )


def main() -> None:
    """Measure the reference, print it, write ``bench/results/mlmd_reference.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", choices=("ingest", "full"), default="ingest")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--n-single", type=int, default=5_000)
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--name", default="mlmd_reference", help="results file name (bench/results/NAME.json)")
    p.add_argument("--out", type=Path, default=None, help="write the results to this file instead")
    args = p.parse_args()
    ref = measure_reference(args.parts, args.n, args.n_single, tuple(args.backends.split(",")))
    print_reference(ref)
    payload = {"benchmark": "mlmd_reference", "machine": machine(), "reference": ref}
    if args.out is not None:
        args.out.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"\nwrote {args.out}")
        return
    path = write_results(args.name, payload)
    print(f"\nwrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
