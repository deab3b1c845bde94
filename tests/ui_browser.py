"""Shared by the explorer's browser tests and bench/ui_bench.py: Debian's chromium through Playwright, and a
store whose lineage around one dataset has 1,000+ nodes.

Playwright never downloads a browser here: it drives the ``chromium`` on PATH (Debian's package). Without it
the browser tests skip, saying why, unless ``MLMD_LOG_REQUIRE`` (comma-separated) names ``chromium``: then
they fail, as on CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from needs import unavailable

import mlmd_log
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

#: Where the tests leave a screenshot of each page (docs/ui.md and the README show them).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "ui"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    """The chromium executable, or skip (fail when MLMD_LOG_REQUIRE names chromium)."""
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium", "no `chromium` on PATH (Debian: apt-get install chromium); the browser tests need it")
    return path


def launch(playwright: Any, executable: str) -> Any:
    """Headless chromium without a sandbox (root in CI), GPU or background traffic."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def fan_out_store(path: str, executions: int = 500, runs: int = 10) -> tuple[int, int]:
    """A store where one dataset feeds ``executions`` Trainers, each writing one Model, spread over ``runs``
    PipelineRun contexts: 1 + 2 * executions nodes downstream of the dataset. Each run is written in four
    bulk ops (executions, models, events, associations), so the log has a handful of positions per run.
    Returns (dataset id, last position)."""
    with mlmd_log.connect(f"duckdb:///{path}") as store:
        data_type = store.put_artifact_type(mlmd.ArtifactType(name="Dataset"))
        model_type = store.put_artifact_type(mlmd.ArtifactType(name="Model"))
        trainer_type = mlmd.ExecutionType(name="Trainer")
        trainer_type.properties["learning_rate"] = mlmd.DOUBLE
        trainer_type_id = store.put_execution_type(trainer_type)
        run_type = store.put_context_type(mlmd.ContextType(name="PipelineRun"))
        [dataset_id] = store.put_artifacts([mlmd.Artifact(type_id=data_type, uri="/data/shared")])
        context_ids = store.put_contexts([mlmd.Context(type_id=run_type, name=f"run-{r}") for r in range(runs)])
        per_run = max(1, executions // runs)
        for run, context_id in enumerate(context_ids):
            first = run * per_run
            trainers = []
            for i in range(first, min(executions, first + per_run)):
                trainer = mlmd.Execution(type_id=trainer_type_id, name=f"train-{i}",
                                         last_known_state=mlmd.Execution.COMPLETE)
                trainer.properties["learning_rate"].double_value = 0.001 * (i + 1)
                trainers.append(trainer)
            trainer_ids = store.put_executions(trainers)
            model_ids = store.put_artifacts([mlmd.Artifact(type_id=model_type, uri=f"/models/{first + k}")
                                             for k in range(len(trainers))])
            store.put_events(
                [mlmd.Event(artifact_id=dataset_id, execution_id=t, type=mlmd.Event.INPUT) for t in trainer_ids]
                + [mlmd.Event(artifact_id=m, execution_id=t, type=mlmd.Event.OUTPUT)
                   for t, m in zip(trainer_ids, model_ids, strict=True)]
            )
            store.put_attributions_and_associations(
                [mlmd.Attribution(artifact_id=m, context_id=context_id) for m in model_ids],
                [mlmd.Association(execution_id=t, context_id=context_id) for t in trainer_ids],
            )
        return dataset_id, store.log_position()
