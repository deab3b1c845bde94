"""The brokers and topic of one Kafka log, and the one place kafka-python's errors become ours.

kafka-python 3.0.12 facts handled here:

* ``allow_auto_create_topics=False`` never reaches the client's metadata
  requests (``KafkaConnectionManager`` builds ``ClusterMetadata`` without it),
  so a client that merely asks for a missing topic creates it (tansu gives it
  4 partitions, Apache Kafka ``num.partitions``). :meth:`KafkaEndpoint.open`
  sets the flag where kafka-python reads it; no public setting reaches it.
* A failed bootstrap leaves the client's IO thread running; :meth:`~KafkaEndpoint.open` closes it.
* A bootstrap refused for bad credentials ends in a bare ``KafkaTimeoutError``
  ("Unable to bootstrap"): the SASL failure is only logged. :meth:`~KafkaEndpoint.translating`
  watches kafka-python's connection log while it works and translates that failure instead,
  so a wrong password is an :class:`~mlmd_log.errors.UnauthenticatedError` within the connect timeout.
* ``KafkaAdminClient`` logs its configuration, passwords included, at DEBUG; a filter on its logger
  blanks the secret values.
* Not every failure is a ``KafkaError``: against brokers that answer older API
  versions kafka-python can fail with ``KeyError`` and the like. Those become
  :class:`~mlmd_log.errors.InternalError` naming the operation and servers, too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import kafka.errors as kerr
from kafka.net.compat import KafkaNetClient

from mlmd_log.errors import (
    BrokerUnavailableError,
    ConfigError,
    FailedPreconditionError,
    InternalError,
    MlmdLogError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from mlmd_log.settings import Settings
from mlmd_log.urls import validate_topic

#: A user's own translation, tried first: given the exception and where it happened (operation, topic,
#: servers), the error to raise, or None for the common one.
Special = Callable[[kerr.KafkaError, str], MlmdLogError | None]


_CONNECTIONS_LOG = logging.getLogger("kafka")
#: kafka-python settings that hold secrets; kafka-python's admin client logs its whole configuration (DEBUG).
_SECRET_KEYS = frozenset({"sasl_plain_password", "ssl_password", "sasl_oauth_token_provider"})


def _blank(config: object) -> object:
    if not isinstance(config, dict):
        return config
    return {k: "**********" if k in _SECRET_KEYS and v is not None else v for k, v in config.items()}


def _redact_secrets(record: logging.LogRecord) -> bool:
    """A logging filter: the secret values of a configuration dict in a record's arguments become '**********'.
    (A lone mapping argument is ``record.args`` itself, as the logging module stores it.)"""
    if isinstance(record.args, dict):
        record.args = _blank(record.args)  # type: ignore[assignment]
    elif isinstance(record.args, tuple):
        record.args = tuple(_blank(a) for a in record.args)
    return True


logging.getLogger("kafka.admin.client").addFilter(_redact_secrets)


class _Refusals(logging.Handler):
    """Keeps the authentication and authorization failures kafka-python logs (module docstring)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[kerr.KafkaError] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        found = [a for a in args if isinstance(a, kerr.SaslAuthenticationFailedError | kerr.AuthorizationError)]
        if not found and "SaslAuthenticationFailedError" in (text := record.getMessage()):
            found = [kerr.SaslAuthenticationFailedError(text.split("SaslAuthenticationFailedError:")[-1].strip())]
        self.seen += found


class KafkaEndpoint:
    """Topic ``topic`` on the brokers ``bootstrap`` (``host:port`` each), reached with ``settings``."""

    def __init__(self, settings: Settings, bootstrap: Sequence[str], topic: str) -> None:
        if isinstance(bootstrap, str) or not bootstrap:
            raise ConfigError(f"bootstrap must be a non-empty list of host:port strings, got {bootstrap!r}")
        self.settings = settings
        self.bootstrap: tuple[str, ...] = tuple(bootstrap)
        self.topic = validate_topic(topic)

    def __repr__(self) -> str:
        return f"KafkaEndpoint({self.servers!r}, topic={self.topic!r})"

    @property
    def servers(self) -> str:
        """The bootstrap servers as one would type them: ``host:port,host:port``."""
        return ",".join(self.bootstrap)

    @property
    def connect_ms(self) -> int:
        return max(1, int(self.settings.connect_timeout_s * 1000))

    def client_config(self) -> dict[str, Any]:
        """What every client of this log gets: servers, bootstrap timeout and the security settings."""
        return {
            "bootstrap_servers": list(self.bootstrap),
            "bootstrap_timeout_ms": self.connect_ms,
            # kafka-python backs off up to 30 s between reconnects; a restarted broker is used within 1 s.
            "reconnect_backoff_max_ms": 1000,
            **self.settings.kafka_security(),
        }

    def open(self, cls: Any, **config: Any) -> Any:
        """A kafka-python client (``KafkaProducer``, ``KafkaConsumer``, ``KafkaAdminClient``) with
        :meth:`client_config` and ``config``, auto topic creation really off; closed again if bootstrap fails."""
        clients: list[Any] = []

        def factory(**kwargs: Any) -> Any:
            client = KafkaNetClient(**kwargs)
            client._manager.cluster.config["allow_auto_create_topics"] = False  # module docstring
            clients.append(client)
            return client

        try:
            return cls(kafka_client=factory, **{**self.client_config(), **config})
        except BaseException:
            for client in clients:
                client.close()
            raise

    @contextmanager
    def translating(self, action: str, special: Special | None = None) -> Iterator[None]:
        """The choke point: any kafka-python failure inside becomes an mlmd-log error about ``action``."""
        refusals = _Refusals()
        _CONNECTIONS_LOG.addHandler(refusals)
        try:
            yield
        except MlmdLogError:
            raise
        except kerr.KafkaError as err:
            refused = isinstance(err, kerr.KafkaTimeoutError) and refusals.seen
            raise self.translate(refusals.seen[-1] if refused else err, action, special) from err
        except (KeyError, AttributeError, TypeError, IndexError, AssertionError, ValueError) as err:
            raise InternalError(
                f"{self.where(action)}: the Kafka client failed on the broker's answer "
                f"({type(err).__name__}: {err}); is the broker a supported Kafka version?"
            ) from err
        finally:
            _CONNECTIONS_LOG.removeHandler(refusals)

    def where(self, action: str) -> str:
        return f"{action} on topic {self.topic!r} at {self.servers}"

    def translate(self, err: kerr.KafkaError, action: str, special: Special | None = None) -> MlmdLogError:
        """The mlmd-log error for a kafka-python one, its message naming ``action`` and the servers."""
        if special is not None and (mine := special(err, self.where(action))) is not None:
            return mine
        where = self.where(action)
        if isinstance(err, kerr.SaslAuthenticationFailedError):
            return UnauthenticatedError(f"{where}: authentication failed: {err}")
        if isinstance(err, kerr.AuthorizationError):
            return PermissionDeniedError(f"{where}: not authorized: {err}")
        if isinstance(err, kerr.KafkaConfigurationError | kerr.UnsupportedCodecError):
            return ConfigError(f"{where}: {err}")
        if isinstance(err, kerr.UnsupportedVersionError | kerr.IncompatibleBrokerVersion):
            return UnimplementedError(f"{where}: the broker does not support this: {err}")
        if isinstance(err, kerr.IllegalStateError):
            return FailedPreconditionError(f"{where}: {err}")
        if isinstance(err, kerr.KafkaTimeoutError | kerr.KafkaConnectionError | kerr.NodeNotReadyError):
            return BrokerUnavailableError(
                f"{where}: no Kafka broker answered within {self.settings.connect_timeout_s:g} s "
                f"(bootstrap servers: {self.servers}): {err}"
            )
        if isinstance(err, kerr.RetriableError):
            return UnavailableError(f"{where}: {err}")
        return InternalError(f"{where}: {err}")
