"""OpenLineage's Kafka transport, consumed: each record of a topic is one event, applied like a POST.

The OpenLineage client's Kafka transport writes each event as JSON to a topic (keyed by run or job). This
reader consumes partition 0 of a single-partition topic from its first offset (through the projector's
Kafka reader, the one place that consumes Kafka), validates each event and applies it with
:class:`~mlmd_log.http.openlineage_ingest.Ingestor`. Ingestion is idempotent (op ids derived from the event),
so reading the topic again from the start appends nothing for events already applied. An invalid event
is logged and counted, never fatal. The ops are stamped with the principal ``kafka:<topic>``.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.grpc.store import SharedStore
from mlmd_log.http.openlineage_ingest import Ingestor
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.settings import Settings
from mlmd_log.store import MetadataStore
from mlmd_log.urls import KafkaLogUrl

log = logging.getLogger("mlmd_log.openlineage")


@dataclass
class ConsumeReport:
    """What a run of the consumer did."""

    applied: int = 0
    retries: int = 0
    invalid: int = 0
    next_offset: int = 0


def consume(
    store: MetadataStore, source: KafkaLogUrl, settings: Settings, *, follow: bool = False,
    stop: threading.Event | None = None, start_offset: int = 0,
) -> ConsumeReport:
    """Apply the topic's events from ``start_offset``; return once caught up (or, ``follow``, on ``stop``)."""
    shared = SharedStore(store)
    ingestor = Ingestor(store, shared)
    reader = KafkaLogReader(settings, source.bootstrap, source.topic)
    report = ConsumeReport(next_offset=start_offset)
    principal = f"kafka:{source.topic}"
    try:
        reader.seek(start_offset)
        while stop is None or not stop.is_set():
            records = reader.poll_batch()
            if not records:
                if not follow and reader.position >= reader.end_offset():
                    break
                continue
            for record in records:
                try:
                    event = json.loads(record.value)
                    if ingestor.ingest(event, principal):
                        report.applied += 1
                    else:
                        report.retries += 1
                except (ValueError, InvalidArgumentError) as err:
                    report.invalid += 1
                    log.warning("offset %d of %s is not a valid OpenLineage event: %s", record.offset,
                                source.topic, err)
                report.next_offset = record.offset + 1
    finally:
        reader.close()
        shared.close()
    return report
