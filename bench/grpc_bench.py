"""put_artifacts and get_artifacts_by_id through our gRPC server, against MLMD 1.17.1 in-process, in one run.

Our side: ``python -m mlmd_log.grpc_server`` as its own process (over the embedded log, and over Kafka on
the test broker, tansu by default), called with our generated stub from this process, so client and server
do not share a GIL. Every write is answered after the server's projector applied it (read-your-writes), so
a put's latency includes the log round trip and the projection. MLMD's side: its reference workload's own
code in the reference venv (``bench/mlmd_reference.py``), in-memory and SQLite file, measured just before.

    python bench/grpc_bench.py                  # n=20k artifacts in batches of 1000, 1000 single puts
    python bench/grpc_bench.py --n 100000 --backends kafka

Results: ``bench/results/grpc.json`` (and a table on stdout). The script is not called ``grpc.py``: every
script in this folder has the folder first on ``sys.path``, where a ``grpc.py`` would shadow grpcio (and
break ``ml_metadata``, which imports it, in the reference driver).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import grpc
from common import (
    REPO_ROOT,
    artifact_type,
    fmt,
    log,
    machine,
    make_artifact,
    print_table,
    ratio,
    running_broker,
    write_results,
)
from mlmd_reference import figure, measure_reference

from mlmd_log.proto import metadata_store_service_pb2 as svc
from mlmd_log.proto import metadata_store_service_pb2_grpc as svc_grpc

BACKENDS = ("embedded", "kafka")


@contextmanager
def running_server(log_url: str, db: str | None, workdir: Path) -> Iterator[str]:
    """Our server as a process; yields its address, stops it with SIGTERM."""
    port_file = workdir / f"port-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "mlmd_log.grpc_server", "--log", log_url, "--port", "0",
               "--port-file", str(port_file)]
    if db:
        command += ["--db", db]
    with open(workdir / "server.log", "ab") as errors:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {(workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port_file.read_text().strip()}"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def best_and_median(repeat: int, call: Callable[[], Any]) -> tuple[float, float]:
    """Best and median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def measure_ours(address: str, n: int, n_single: int, clients: int) -> dict[str, float]:
    """The workload's parts (a), (a') and the by-id gets, through the server at ``address``."""
    out: dict[str, float] = {}
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = svc_grpc.MetadataStoreServiceStub(channel)
        type_id = stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type=artifact_type())).type_id
        ids: list[int] = []
        t0 = time.perf_counter()
        for start in range(0, n, 1000):
            batch = [make_artifact(type_id, i) for i in range(start, min(start + 1000, n))]
            ids.extend(stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=batch)).artifact_ids)
        dt = time.perf_counter() - t0
        out["a_put_artifacts_batch1000_per_s"] = n / dt
        log(f"  put_artifacts batch 1000: {n:,} in {dt:.2f} s -> {n / dt:,.0f}/s")

        t0 = time.perf_counter()
        for i in range(n_single):
            stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[make_artifact(type_id, n + i)]))
        dt = time.perf_counter() - t0
        out["a_put_artifacts_batch1_ms_per_call"] = dt / n_single * 1e3
        out["a_put_artifacts_batch1_per_s"] = n_single / dt
        log(f"  put_artifacts batch 1: {dt / n_single * 1e3:.2f} ms/call")

        out["a_put_artifacts_batch1_concurrent_per_s"] = _concurrent_single_puts(address, type_id, n_single, clients)
        log(f"  put_artifacts batch 1, {clients} clients: {out['a_put_artifacts_batch1_concurrent_per_s']:,.0f}/s")

        rng = random.Random(42)
        sample = rng.sample(ids, min(100, len(ids)))
        best, median = best_and_median(20, lambda: stub.GetArtifactsByID(svc.GetArtifactsByIDRequest(artifact_ids=sample)))
        out["c_get_artifacts_by_id_100_ms"], out["c_get_artifacts_by_id_100_median_ms"] = best * 1e3, median * 1e3
        one = svc.GetArtifactsByIDRequest(artifact_ids=[sample[0]])
        best, median = best_and_median(500, lambda: stub.GetArtifactsByID(one))
        out["c_get_artifacts_by_id_1_ms"], out["c_get_artifacts_by_id_1_median_ms"] = best * 1e3, median * 1e3
        log(f"  get_artifacts_by_id: 1 id {median * 1e3:.3f} ms median, 100 ids {out['c_get_artifacts_by_id_100_ms']:.2f} ms best")
    return out


def _concurrent_single_puts(address: str, type_id: int, total: int, clients: int) -> float:
    """Artifacts/s for ``total`` single-artifact puts spread over ``clients`` channels at once."""
    per_client = max(1, total // clients)
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with grpc.insecure_channel(address) as channel:
            stub = svc_grpc.MetadataStoreServiceStub(channel)
            barrier.wait()
            for i in range(per_client):
                stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[make_artifact(type_id, 10_000_000 * (k + 1) + i)]))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return per_client * clients / (time.perf_counter() - t0)


ROWS = {
    "a_put_artifacts_batch1000_per_s": ("put_artifacts batch 1000 (artifacts/s)", False, 0),
    "a_put_artifacts_batch1_ms_per_call": ("put_artifacts batch 1 (ms/call)", True, 3),
    "a_put_artifacts_batch1_concurrent_per_s": ("put_artifacts batch 1, N clients (artifacts/s; MLMD: 1)", False, 0),
    "c_get_artifacts_by_id_1_ms": ("get_artifacts_by_id 1 id (ms, best)", True, 3),
    "c_get_artifacts_by_id_1_median_ms": ("get_artifacts_by_id 1 id (ms, median)", True, 3),
    "c_get_artifacts_by_id_100_ms": ("get_artifacts_by_id 100 ids (ms, best)", True, 3),
}
_REFERENCE_KEY = {"a_put_artifacts_batch1_concurrent_per_s": "a_put_artifacts_batch1_per_s",
                  "c_get_artifacts_by_id_1_median_ms": "c_get_artifacts_by_id_1_mean_ms"}


def _versus(ours: float | None, mem: float | None, sqlite: float | None, lower: bool) -> str:
    """``1.5x faster / 12x slower``: ours against each MLMD backend."""

    def one(reference: float | None) -> str:
        r = ratio(ours, reference, lower_is_better=lower)
        if r is None:
            return "-"
        return f"{r:.2g}x faster" if r >= 1 else f"{1 / r:.3g}x slower"

    return f"{one(mem)} / {one(sqlite)}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20_000, help="artifacts put in batches of 1000 (both sides)")
    p.add_argument("--n-single", type=int, default=1_000, help="single-artifact put calls (both sides)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for the single-put throughput")
    p.add_argument("--backends", default=",".join(BACKENDS))
    args = p.parse_args()
    backends = [b for b in args.backends.split(",") if b]

    reference = measure_reference(n=args.n, n_single=args.n_single)
    ours: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mlmd-log-bench-grpc-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        for backend in backends:
            log(f"our gRPC server over {backend} ...")
            if backend == "embedded":
                url, db = f"duckdb:///{work / 'embedded.duckdb'}", None
            else:
                broker = stack.enter_context(running_broker())
                url, db = broker.url(f"bench-grpc-{uuid.uuid4().hex[:8]}"), str(work / "kafka.duckdb")
            with running_server(url, db, work) as address:
                ours[backend] = measure_ours(address, args.n, args.n_single, args.clients)

    rows = []
    for key, (label, lower, digits) in ROWS.items():
        ref_key = _REFERENCE_KEY.get(key, key)
        mem, sqlite = figure(reference, "fake", ref_key), figure(reference, "sqlite", ref_key)
        cells = [label, fmt(mem, digits), fmt(sqlite, digits)]
        for backend in backends:
            value = ours[backend].get(key)
            cells += [fmt(value, digits), _versus(value, mem, sqlite, lower)]
        rows.append(cells)
    headers = ["operation", "MLMD in-memory", "MLMD SQLite"]
    for backend in backends:
        headers += [f"ours gRPC/{backend}", "vs MLMD mem / SQLite"]
    print_table(headers, rows, title=f"gRPC server vs MLMD {reference.get('version')} in-process (n={args.n:,})")
    path = write_results("grpc", {
        "benchmark": "grpc", "machine": machine(),
        "params": {"n": args.n, "n_single": args.n_single, "clients": args.clients, "backends": backends,
                   "load_average_1m_end": round(os.getloadavg()[0], 2)},
        "notes": ("ours: our stub -> our server process (python -m mlmd_log.grpc_server), every write answered "
                  "after the server's projector applied it; MLMD: the reference workload in-process. Concurrent "
                  "single puts are compared with MLMD's sequential single puts (MLMD in-process has one caller)."),
        "ours": ours, "reference": reference,
    })
    log(f"results: {path}")


if __name__ == "__main__":
    main()
