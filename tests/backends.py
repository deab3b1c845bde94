"""Store fixtures parametrized over every backend: the embedded log and Kafka (a real broker).

A behavioural test asks for ``store`` (or ``store_factory`` to pass settings)
and runs once per backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import mlmd_log
from mlmd_log.settings import Settings

BACKENDS = ("embedded", "kafka")


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    opened: list[Any] = []

    def make(**settings: Any) -> Any:
        db = str(tmp_path / f"{uuid.uuid4().hex}.duckdb")
        config = Settings(**{"team": "tests", "service": "behaviour", **settings})
        if request.param == "embedded":
            store = mlmd_log.connect(f"duckdb:///{db}", settings=config)
        else:
            broker = request.getfixturevalue("kafka_broker")
            store = mlmd_log.connect(broker.url(f"t-{uuid.uuid4().hex[:12]}"), db=db, settings=config)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: Callable[..., Any]) -> Any:
    return store_factory()
