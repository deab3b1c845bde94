"""Shared fixtures: a Kafka broker for the session and a fresh topic name per test.

The broker comes from ``MLMD_LOG_TEST_BROKER`` (``tansu`` by default; see
``tests/broker.py``) and is started only by the tests that ask for it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from broker import Broker, start_broker
from hypothesis import HealthCheck, settings

# Property tests' profile ("ci"): fewer examples, no deadline, slow data generation allowed.
settings.register_profile("ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Store fixtures parametrized over every backend (embedded log, Kafka).
pytest_plugins = ("backends", "http_fixtures")


#: Modules whose tests may ask for the broker while they run (request.getfixturevalue), so all count as broker-backed.
DYNAMIC_BROKER_MODULES = ("test_docs.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the broker-backed tests ``broker``: ``.ci/run`` runs them again on genuine Apache Kafka."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            "kafka_broker" in getattr(item, "fixturenames", ())
            or "kafka" in params.values()
            or item.path.name in DYNAMIC_BROKER_MODULES
        ):
            item.add_marker(pytest.mark.broker)


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0.12 loads its protocol schemas through deprecated importlib.resources calls.
    config.addinivalue_line("filterwarnings", "ignore:(read|open)_text is deprecated:DeprecationWarning")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """The session's broker: ``.bootstrap`` ("host:port") and ``.url(topic)`` ("kafka://host:port/topic")."""
    broker = start_broker()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the topic itself is not created)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80].strip("-")
    return f"t-{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def restart_broker(kafka_broker: Broker) -> Callable[[], None]:
    """Restart the session broker on the same address (tansu comes back empty, Apache Kafka keeps its log;
    ``kafka_broker.keeps_data`` says which); skips where the broker cannot be restarted."""
    return kafka_broker.restart


@pytest.fixture
def lose_topic(kafka_broker: Broker) -> Callable[[str], None]:
    """Make a topic vanish (tansu: an empty restart; Apache Kafka: the topic is deleted)."""
    return kafka_broker.lose_topic
