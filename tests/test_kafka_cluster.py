"""Faults on a three-broker Apache Kafka cluster (KRaft, loopback): what a user's replicated cluster does.

The log's topic is created by the store itself: replication factor 3, ``min.insync.replicas=2``, checked
strictly (these brokers report every setting). Each test streams from several producers while a replica
projects, breaks the cluster, and then checks the projection against what the producers were told:

* every op a ``sync()`` confirmed is projected, exactly once (uris are unique per op);
* the producers and the replica are the same objects before and after the fault (no restart);
* all brokers down: a typed error naming the servers and the unacknowledged ops; resent, each lands once.

Runs only on genuine Apache Kafka (``-m apache``; java and mvn, tests/apache_kafka.py): ``.ci/run`` runs it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apache_kafka import APACHE_KAFKA_VERSIONS
from broker import ApacheBroker
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from test_reliability import RecordingLog

import mlmd_log
from mlmd_log import errors
from mlmd_log.kafka_store import KafkaOpLog
from mlmd_log.producer.transport import KafkaLogWriter
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings
from mlmd_log.store import MetadataStore

pytestmark = pytest.mark.apache

PRODUCERS = 4
SETTINGS = Settings(delivery_timeout_s=60.0, connect_timeout_s=10.0, linger_ms=2, batch_max_ms=10)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ApacheBroker]:
    broker = ApacheBroker(APACHE_KAFKA_VERSIONS["apache"], nodes=3)
    try:
        yield broker
    finally:
        broker.stop()


def leader_of(bootstrap: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        (info,) = admin.describe_topics([topic])
        return int(info["partitions"][0]["leader_id"])
    finally:
        admin.close()


class Stream:
    """``PRODUCERS`` write-only stores, each putting one-artifact ops and syncing every 10; what each sync
    confirmed is kept (uris), and when a sync first succeeded after ``fault_at``."""

    def __init__(self, url: str, type_id: int) -> None:
        self.stores = [mlmd_log.connect(url, settings=SETTINGS) for _ in range(PRODUCERS)]
        self.type_id = type_id
        self.confirmed: list[list[str]] = [[] for _ in range(PRODUCERS)]
        self.failures: list[BaseException] = []
        self.fault_at: float | None = None
        self.resumed: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(PRODUCERS)]

    def start(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, n: int) -> None:
        store, pending, i = self.stores[n], [], 0
        try:
            while not self._stop.is_set():
                uri = f"/p{n}/{i}"
                store.put_artifacts([mlmd.Artifact(type_id=self.type_id, uri=uri)])
                pending.append(uri)
                i += 1
                if i % 10 == 0:
                    store.sync()
                    self.confirmed[n] += pending
                    pending = []
                    fault_at = self.fault_at
                    if fault_at is not None and len(self.resumed) <= n:
                        self.resumed.append(time.monotonic() - fault_at)
                time.sleep(0.002)
        except BaseException as err:
            self.failures.append(err)

    def total(self) -> int:
        return sum(len(c) for c in self.confirmed)

    def wait_for(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.total() < count and not self.failures and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.failures, self.failures
        assert self.total() >= count, f"only {self.total()} ops confirmed in {timeout_s:g} s"

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        for store in self.stores:
            store.close()
        assert not self.failures, self.failures


def caught_up(replica: Any, cluster: ApacheBroker, topic: str, timeout_s: float = 120) -> None:
    with KafkaLogReader(SETTINGS, cluster.bootstrap.split(","), topic) as log:
        end = log.end_offset()
    deadline = time.monotonic() + timeout_s
    while replica.log_position() < end - 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert replica.log_position() == end - 1


def projected_uris(replica: Any) -> list[str]:
    return replica.sql("SELECT uri FROM artifacts").column("uri").to_pylist()  # type: ignore[no-any-return]


def assert_each_confirmed_op_once(replica: Any, stream: Stream) -> None:
    uris = projected_uris(replica)
    assert len(uris) == len(set(uris)), "an op was projected twice"
    missing = {u for c in stream.confirmed for u in c} - set(uris)
    assert not missing, f"{len(missing)} confirmed ops never projected, e.g. {sorted(missing)[:3]}"


def setup_topic(cluster: ApacheBroker, tmp_path: Path) -> tuple[str, str, Any, int]:
    topic = f"c-{uuid.uuid4().hex[:10]}"
    url = cluster.url(topic)
    replica = mlmd_log.connect(url, db=str(tmp_path / "replica.duckdb"), settings=SETTINGS)
    type_id = replica.put_artifact_type(mlmd.ArtifactType(name="T"))
    replica.sync()
    return topic, url, replica, type_id


def test_the_topic_is_replicated_three_times_with_two_in_sync(cluster: ApacheBroker, tmp_path: Path) -> None:
    topic, _, replica, _ = setup_topic(cluster, tmp_path)
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap.split(","))
    try:
        (info,) = admin.describe_topics([topic])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
    finally:
        admin.close()
    assert len(info["partitions"]) == 1
    assert len(info["partitions"][0]["replica_nodes"]) == 3
    assert configs["min.insync.replicas"]["value"] == "2"
    assert configs["retention.ms"]["value"] == "-1"
    replica.close()


def test_killing_the_leader_mid_stream_loses_and_duplicates_nothing(cluster: ApacheBroker, tmp_path: Path) -> None:
    topic, url, replica, type_id = setup_topic(cluster, tmp_path)
    stream = Stream(url, type_id).start()
    stream.wait_for(400)
    leader = leader_of(cluster.bootstrap, topic)
    node = cluster.cluster.nodes[leader - 1]
    before = stream.total()
    stream.fault_at = time.monotonic()
    node.kill()  # SIGKILL: no controlled shutdown
    try:
        stream.wait_for(before + 800)  # the same producers go on once a new leader is elected
        assert len(stream.resumed) == PRODUCERS
        new_leader = leader_of(",".join(n.address for n in cluster.cluster.nodes if n is not node), topic)
        assert new_leader != leader
        print(f"\nresume after SIGKILL of the leader (node {leader}): first confirmed sync per producer "
              f"{', '.join(f'{s:.2f} s' for s in sorted(stream.resumed))}")
    finally:
        stream.stop()
        node.start()
    caught_up(replica, cluster, topic)
    assert_each_confirmed_op_once(replica, stream)
    replica.close()


def test_a_restarted_broker_keeps_its_data_and_clients_reconnect(cluster: ApacheBroker, tmp_path: Path) -> None:
    topic, url, replica, type_id = setup_topic(cluster, tmp_path)
    stream = Stream(url, type_id).start()
    stream.wait_for(300)
    node = cluster.cluster.nodes[leader_of(cluster.bootstrap, topic) - 1]
    before = stream.total()
    try:
        node.restart()  # controlled shutdown, then the same data directory
        stream.wait_for(before + 600)
    finally:
        stream.stop()
    caught_up(replica, cluster, topic)
    assert_each_confirmed_op_once(replica, stream)
    replica.close()


class KeepingLog(RecordingLog):
    """The store's Kafka log, keeping each op's bytes by op id so the test can resend exactly those ops."""

    def __init__(self, inner: KafkaOpLog) -> None:
        super().__init__(inner)
        self.ops: dict[str, bytes] = {}

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> Any:
        self.ops[op_id] = data
        return super().append(op_id, data, wait=wait)


def test_all_brokers_down_names_the_servers_and_the_unacknowledged_ops_which_land_once_when_resent(
    cluster: ApacheBroker, tmp_path: Path
) -> None:
    topic, _, replica, type_id = setup_topic(cluster, tmp_path)
    settings = SETTINGS.model_copy(update={"delivery_timeout_s": 4.0, "connect_timeout_s": 2.0})
    writer = KafkaLogWriter(settings, cluster.bootstrap.split(","), topic)
    log = KeepingLog(KafkaOpLog(writer, None, settings))
    producer = MetadataStore(log, None, settings)
    producer.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/before")])
    producer.sync()
    caught_up(replica, cluster, topic)
    for node in cluster.cluster.nodes:
        node.kill()
    try:
        for i in range(5):
            producer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/down/{i}")])
        started = time.monotonic()
        with pytest.raises(errors.DeliveryError) as raised:
            producer.sync()
        assert time.monotonic() - started < settings.delivery_timeout_s + 10
        message = str(raised.value)
        assert all(n.address in message for n in cluster.cluster.nodes), message
        unacknowledged = raised.value.op_ids
        assert len(unacknowledged) == 5 and len(set(unacknowledged)) == 5  # five put calls, five ops
    finally:
        for node in cluster.cluster.nodes:
            node.start()
        for node in cluster.cluster.nodes:
            node.wait_listening(time.monotonic() + 90)
    # The same producer, after recovery: resend exactly the reported ops, twice even; each lands once.
    deadline = time.monotonic() + 90
    while True:
        try:
            for _ in range(2):
                for op_id in unacknowledged:
                    log.append(op_id, log.ops[op_id])
            producer.sync()
            break
        except errors.UnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    producer.close()
    caught_up(replica, cluster, topic)
    assert sorted(projected_uris(replica)) == ["/before"] + [f"/down/{i}" for i in range(5)]
    archive = replica.sql("SELECT op_id, outcome FROM op_archive").to_pydict()
    applied = [op_id for op_id, outcome in zip(archive["op_id"], archive["outcome"], strict=True) if outcome == "applied"]
    assert all(applied.count(op_id) == 1 for op_id in unacknowledged)  # the copies are archived as duplicates
    assert all(archive["op_id"].count(op_id) >= 2 for op_id in unacknowledged)  # at least the two resends
    replica.close()
