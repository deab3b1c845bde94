"""Runs (parts of) MLMD's reference workload inside the ml-metadata 1.17.1 reference venv; prints JSON.

Not imported by our code: :mod:`mlmd_reference` runs it with the reference interpreter
(ml-metadata pins protobuf 4, which cannot share a process with our protobuf 7 gencode).
It imports the workload script (``--workload``: ``bench/mlmd_workload.py`` by default; bench/README.md)
and reuses its store factory, artifact builder and timers, so a figure measured here is
the workload's own figure:

* ``--parts full``: the whole workload (``run_backend``) at ``scale = n / 100000``.
* ``--parts ingest``: only what the ingest and producer benchmarks compare against, with the
  workload's code and result keys: (a) put_artifacts of ``n`` artifacts x 3 properties in
  batches of 1000, (a') put_artifacts batch of 1 (``n_single`` calls), get_artifacts_by_type
  and get_artifacts_by_id with 1 and 100 ids.

The JSON on stdout is ``{"version", "parts", "n", "n_single", "results": {backend: {key: value}}}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

DEFAULT_WORKLOAD = Path(__file__).resolve().with_name("mlmd_workload.py")


def load_workload(path: str) -> ModuleType:
    """Import the workload script as a module (its ``main`` is not run)."""
    spec = importlib.util.spec_from_file_location("mlmd_workload", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the MLMD workload from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # registered first, as an import would: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_ingest(wl: ModuleType, backend: str, n: int, n_single: int, tmpdir: str) -> None:
    """Workload parts (a), (a') and the by-type / by-id gets, with the workload's code and keys."""
    pb = wl.pb
    batch = 1000
    store = wl.make_store(backend, tmpdir, "main")
    at = pb.ArtifactType(name="DataSet")
    at.properties["day"] = pb.INT
    at.properties["split"] = pb.STRING
    at.properties["score"] = pb.DOUBLE
    at_id, dt = wl.timed(store.put_artifact_type, at)
    wl.record(backend, "put_artifact_type_ms", dt * 1e3)
    art_ids: list[int] = []
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        arts = [wl.make_artifact(at_id, i) for i in range(start, min(start + batch, n))]
        art_ids.extend(store.put_artifacts(arts))
    dt = time.perf_counter() - t0
    wl.record(backend, "a_put_artifacts_batch1000_per_s", n / dt)
    wl.record(backend, "a_put_artifacts_batch1000_total_s", dt)
    wl.log(f"[{backend}] (a) put_artifacts batch={batch}: {n} in {dt:.2f}s -> {n / dt:,.0f} artifacts/s")
    _, dt_build = wl.timed(lambda: [wl.make_artifact(at_id, i) for i in range(batch)])
    wl.record(backend, "a_proto_build_us_per_artifact", dt_build / batch * 1e6)

    r, best, _ = wl.best_of(3, store.get_artifacts_by_type, "DataSet")
    wl.record(backend, "c_get_artifacts_by_type_ms", best * 1e3)
    wl.record(backend, "c_get_artifacts_by_type_n", len(r))
    rng = random.Random(42)
    ids_sample = rng.sample(art_ids, min(100, len(art_ids)))
    _, best, _ = wl.best_of(5, store.get_artifacts_by_id, ids_sample)
    wl.record(backend, "c_get_artifacts_by_id_100_ms", best * 1e3)
    _, best, mean = wl.best_of(200, store.get_artifacts_by_id, [ids_sample[0]])
    wl.record(backend, "c_get_artifacts_by_id_1_ms", best * 1e3)
    wl.record(backend, "c_get_artifacts_by_id_1_mean_ms", mean * 1e3)
    del store

    store = wl.make_store(backend, tmpdir, "single")
    at_id = store.put_artifact_type(at)
    t0 = time.perf_counter()
    for i in range(n_single):
        store.put_artifacts([wl.make_artifact(at_id, i)])
    dt = time.perf_counter() - t0
    wl.record(backend, "a_put_artifacts_batch1_per_s", n_single / dt)
    wl.record(backend, "a_put_artifacts_batch1_ms_per_call", dt / n_single * 1e3)
    wl.log(f"[{backend}] (a') put_artifacts batch=1: {dt / n_single * 1e3:.3f} ms/call")
    del store


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the parts for each backend, print the JSON document."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", default=str(DEFAULT_WORKLOAD),
                   help="path of the MLMD reference workload script (default: bench/mlmd_workload.py)")
    p.add_argument("--parts", choices=("ingest", "full"), default="ingest")
    p.add_argument("--n", type=int, default=100_000, help="artifacts put in batches of 1000")
    p.add_argument("--n-single", type=int, default=5_000, help="put_artifacts calls of one artifact")
    p.add_argument("--backends", default="fake,sqlite")
    args = p.parse_args(argv)
    wl = load_workload(args.workload)
    wl.log = lambda *a: print(*a, file=sys.stderr, flush=True)  # type: ignore[attr-defined]  # stdout: JSON only
    tmpdir = tempfile.mkdtemp(prefix="mlmd_ref_")
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        if args.parts == "full":
            wl.run_backend(backend, args.n / 100_000, tmpdir)
        else:
            run_ingest(wl, backend, args.n, args.n_single, tmpdir)
        wl.record(backend, "backend_wall_s", time.perf_counter() - t0)
    shutil.rmtree(tmpdir, ignore_errors=True)
    out: dict[str, Any] = {
        "version": wl.mlmd.__version__, "parts": args.parts, "n": args.n, "n_single": args.n_single,
        "results": wl.RESULTS,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
