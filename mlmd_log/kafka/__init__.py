"""Kafka, once: the client factory, error translation and topic administration of the Kafka log.

With the log writer (:mod:`mlmd_log.producer.transport`) and the log reader
(:mod:`mlmd_log.projector.transport`), its two users, these are the only
modules that import ``kafka`` (kafka-python 3.0.x). It is foundation: it
imports only :mod:`mlmd_log.errors`, :mod:`mlmd_log.settings` and
:mod:`mlmd_log.urls`, never the producer, projector or query packages.

* :mod:`~mlmd_log.kafka.client`: :class:`KafkaEndpoint`, the brokers and topic
  a writer or reader talks to: it opens kafka-python clients with the
  settings' security and timeouts, and turns every client failure into an
  error of :mod:`mlmd_log.errors` naming the operation and the servers.
* :mod:`~mlmd_log.kafka.admin`: :class:`TopicAdmin`, creating, describing and
  checking the log's topic (one partition, retained forever, replicated).
"""

from mlmd_log.kafka.admin import TopicAdmin, TopicSettingsUnverifiedWarning
from mlmd_log.kafka.client import KafkaEndpoint

__all__ = ["KafkaEndpoint", "TopicAdmin", "TopicSettingsUnverifiedWarning"]
