"""The log's topic: created with one partition, retained forever and replicated; checked where it exists.

A topic that would lose or split ops is refused (:class:`~mlmd_log.errors.TopicConfigError`):
more than one partition, a retention limit, or compaction. Where a broker does not report a
setting (tansu reports only the settings given at creation), a
:class:`TopicSettingsUnverifiedWarning` says so instead of refusing: Apache Kafka reports
every setting, so the check is strict there.

Replication: ``min(3, brokers)`` replicas and, with three or more, ``min.insync.replicas=2``,
so an acknowledged op (``acks=all``) is on two brokers at least. The broker count comes from
DescribeCluster; where kafka-python cannot read the broker's answer (DescribeCluster v0, as
older Apache Kafka and some Kafka-protocol brokers give: ``KeyError: 'endpoint_type'`` in
kafka-python 3.0.12) it comes from a metadata answer instead.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import kafka.errors as kerr
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from mlmd_log.errors import NotFoundError, TopicConfigError
from mlmd_log.kafka.client import KafkaEndpoint


class TopicSettingsUnverifiedWarning(UserWarning):
    """The broker did not report a topic setting, so it could not be checked."""


class TopicAdmin:
    """Administers ``endpoint``'s topic through one short-lived admin client per call (:meth:`session`)."""

    def __init__(self, endpoint: KafkaEndpoint) -> None:
        self.endpoint = endpoint

    @contextmanager
    def session(self, action: str) -> Iterator[Any]:
        """An open ``KafkaAdminClient``, closed on exit; failures inside are translated naming ``action``."""
        e = self.endpoint
        with e.translating(action):
            admin = e.open(KafkaAdminClient, request_timeout_ms=max(e.connect_ms, 1000))
            try:
                yield admin
            finally:
                admin.close()

    def partitions(self, admin: Any) -> int | None:
        """The topic's partition count, or None when it does not exist."""
        (info,) = admin.describe_topics([self.endpoint.topic])
        error = kerr.for_code(info["error_code"])
        if error is kerr.UnknownTopicOrPartitionError:
            return None
        if error is not kerr.NoError:
            raise error(f"describing topic {self.endpoint.topic!r}")
        return len(info["partitions"])

    def require_single_partition(self) -> None:
        """NotFoundError unless the topic exists; TopicConfigError unless it has exactly one partition."""
        with self.session("describing the topic") as admin:
            found = self.partitions(admin)
        self._check_count(found)

    def ensure(self, max_message_bytes: int) -> None:
        """Create the topic if absent, then check it (partitions, retention, cleanup policy, message size)."""
        with self.session("checking the topic") as admin:
            found = self.partitions(admin)
            if found is None:
                found = self._create(admin, max_message_bytes)
            self._check_count(found)
            self._check_configs(admin, max_message_bytes)

    def check(self, max_message_bytes: int) -> None:
        """Check an existing topic as :meth:`ensure` does; NotFoundError when it is absent."""
        with self.session("checking the topic") as admin:
            self._check_count(self.partitions(admin))
            self._check_configs(admin, max_message_bytes)

    def broker_count(self, admin: Any) -> int:
        """How many brokers the cluster has: DescribeCluster, else a metadata answer (module docstring)."""
        try:
            return len(admin.describe_cluster()["brokers"])
        except KeyError:
            # kafka-python offers the brokers of a metadata answer through no public call.
            metadata = admin._manager.run(admin._get_cluster_metadata, [])
            return len(metadata["brokers"])

    def _create(self, admin: Any, max_message_bytes: int) -> int | None:
        brokers = self.broker_count(admin)
        replication = 1 if brokers <= 1 else min(3, brokers)
        configs = {
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "cleanup.policy": "delete",
            "max.message.bytes": str(max_message_bytes),
        }
        if replication >= 3:
            configs["min.insync.replicas"] = "2"
        spec = {"num_partitions": 1, "replication_factor": replication, "configs": configs}
        topic = self.endpoint.topic
        with suppress(kerr.TopicAlreadyExistsError):  # another producer won the race: check what it made
            admin.create_topics({topic: spec}, timeout_ms=self.endpoint.connect_ms, wait_for_metadata=True)
        deadline = time.monotonic() + self.endpoint.settings.connect_timeout_s
        while (found := self.partitions(admin)) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # a cluster's other brokers learn of a new topic a moment later
        return found

    def _check_count(self, found: int | None) -> None:
        e = self.endpoint
        if found is None:
            raise NotFoundError(f"topic {e.topic!r} does not exist on {e.servers}: create it with ensure_topic()")
        if found != 1:
            raise TopicConfigError(
                f"topic {e.topic!r} on {e.servers} has {found} partitions; the log needs exactly 1 "
                "(one total order). Use a new single-partition topic."
            )

    def reported_configs(self, admin: Any) -> dict[str, str | None]:
        """The topic settings the broker reports (all of them on Apache Kafka; on tansu those set at creation)."""
        topic = self.endpoint.topic
        try:
            described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
        except (kerr.UnsupportedVersionError, kerr.UnrecognizedBrokerVersion):
            return {}
        return {name: entry.get("value") for name, entry in described.get("topic", {}).get(topic, {}).items()}

    def reports_every_setting(self) -> bool:
        """True when the broker reports topic settings nobody gave (Apache Kafka reports all, with defaults).

        That is how the log reader tells Apache Kafka from tansu, which reports only the settings given at
        creation and needs fallbacks elsewhere (its ListOffsets LATEST answers a batch's base offset + 1, and it
        gives a batch its offsets before it stores it): see :mod:`mlmd_log.projector.transport`.
        """
        with self.session("describing the topic's settings") as admin:
            return "segment.bytes" in self.reported_configs(admin)

    def _check_configs(self, admin: Any, max_message_bytes: int) -> None:
        e = self.endpoint
        reported = self.reported_configs(admin)
        problems = []
        retention_ms = reported.get("retention.ms")
        if retention_ms is None:
            warnings.warn(
                f"the broker at {e.servers} did not report retention.ms for topic {e.topic!r}; "
                "it must be -1 (retain ops forever): check it by hand",
                TopicSettingsUnverifiedWarning,
                stacklevel=5,
            )
        elif retention_ms != "-1":
            problems.append(f"retention.ms={retention_ms} (must be -1: ops are kept forever)")
        retention_bytes = reported.get("retention.bytes")
        if retention_bytes not in (None, "-1"):
            problems.append(f"retention.bytes={retention_bytes} (must be -1 or unset)")
        policy = reported.get("cleanup.policy") or ""
        if "compact" in policy:
            problems.append(f"cleanup.policy={policy} (must be delete: compaction drops records)")
        if problems:
            raise TopicConfigError(
                f"topic {e.topic!r} on {e.servers} would lose ops: {'; '.join(problems)}. "
                "Fix the topic (e.g. kafka-configs.sh --alter --entity-type topics "
                f"--entity-name {e.topic} --add-config retention.ms=-1) or use another topic."
            )
        max_message = reported.get("max.message.bytes")
        if max_message is not None and max_message.isdigit() and int(max_message) < max_message_bytes:
            warnings.warn(
                f"topic {e.topic!r} accepts batches up to max.message.bytes={max_message}; "
                f"ops up to {e.settings.max_op_bytes} bytes need {max_message_bytes}",
                TopicSettingsUnverifiedWarning,
                stacklevel=5,
            )
