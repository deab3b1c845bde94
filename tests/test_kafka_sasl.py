"""SASL_SSL (SCRAM-SHA-512) to a genuine Apache Kafka broker: credentials from settings or the environment.

The broker gets a TLS certificate made at test time (the JDK's keytool) and a SCRAM user created when its
storage is formatted (``kafka-storage format --add-scram``); it listens for PLAINTEXT between brokers and
SASL_SSL for clients. A store, its replica projector and the CLI connect with the user's credentials; a wrong
password is a typed authentication error naming the servers, within the connect timeout; the password is in
no error text, repr or log line. Runs on genuine Apache Kafka only (``-m apache``; ``.ci/run`` runs it).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from apache_kafka import APACHE_KAFKA_VERSIONS, Scram, make_keystore
from broker import ApacheBroker

import mlmd_log
from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings

pytestmark = pytest.mark.apache

USER = "mlmd-writer"
PASSWORD = f"pw-{uuid.uuid4().hex}"  # a value no log line or message could contain by chance


@dataclass
class SecureKafka:
    broker: ApacheBroker
    bootstrap: str
    ca: Path

    def settings(self, password: str = PASSWORD, **extra: object) -> Settings:
        return Settings(
            security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username=USER,
            sasl_password=password, ssl_cafile=str(self.ca), **extra,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    directory = tmp_path_factory.mktemp("tls")
    store_password = uuid.uuid4().hex
    keystore, ca = make_keystore(directory, store_password)
    broker = ApacheBroker(APACHE_KAFKA_VERSIONS["apache"], scram=Scram(USER, PASSWORD, keystore, store_password))
    try:
        yield SecureKafka(broker, broker.cluster.sasl_bootstrap, ca)
    finally:
        broker.stop()


def test_a_wrong_password_is_a_typed_error_naming_the_servers_in_time_and_no_secret_shows(
    secure: SecureKafka, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-" + PASSWORD
    settings = secure.settings(password=wrong, connect_timeout_s=5.0)
    assert wrong not in repr(settings) and wrong not in str(settings)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    # UnauthenticatedError when kafka-python sees the broker's refusal; in some runs it sees only disconnects
    # after the TLS handshake and then times out its bootstrap: BrokerUnavailableError (docs/kafka.md).
    with pytest.raises((errors.UnauthenticatedError, errors.BrokerUnavailableError)) as raised:
        store = mlmd_log.connect(f"kafka://{secure.bootstrap}/t-{uuid.uuid4().hex[:10]}", settings=settings)
        store.put_artifact_type(mlmd.ArtifactType(name="T"))
        store.sync()
    assert time.monotonic() - started < settings.connect_timeout_s + 5
    assert secure.bootstrap in str(raised.value)
    shown = str(raised.value) + repr(raised.value) + caplog.text
    assert wrong not in shown and PASSWORD not in shown


def test_a_store_writes_and_projects_over_sasl_ssl(secure: SecureKafka, tmp_path: Path) -> None:
    url = f"kafka://{secure.bootstrap}/t-{uuid.uuid4().hex[:10]}"
    store = mlmd_log.connect(url, db=str(tmp_path / "p.duckdb"), settings=secure.settings())
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    (artifact_id,) = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/secure")], wait=True)
    assert [a.uri for a in store.get_artifacts_by_id([artifact_id])] == ["/secure"]
    store.close()


def test_the_cli_takes_the_credentials_from_the_environment(secure: SecureKafka, tmp_path: Path) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    url = f"kafka://{secure.bootstrap}/{topic}"
    writer = mlmd_log.connect(url, settings=secure.settings())
    type_id = writer.put_artifact_type(mlmd.ArtifactType(name="T"))
    writer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(3)])
    writer.close()
    env = {
        **os.environ,
        "MLMD_LOG_SECURITY_PROTOCOL": "SASL_SSL",
        "MLMD_LOG_SASL_MECHANISM": "SCRAM-SHA-512",
        "MLMD_LOG_SASL_USERNAME": USER,
        "MLMD_LOG_SASL_PASSWORD": PASSWORD,
        "MLMD_LOG_SSL_CAFILE": str(secure.ca),
    }
    copy = tmp_path / "copy.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "mlmd_log.cli", "replay", "--from", url, "--to", str(copy)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    reader = mlmd_log.connect(f"duckdb:///{copy}")
    assert sorted(a.uri for a in reader.get_artifacts()) == ["/0", "/1", "/2"]
    reader.close()
    wrong = subprocess.run(
        [sys.executable, "-m", "mlmd_log.cli", "replay", "--from", url, "--to", str(tmp_path / "no.duckdb")],
        env={**env, "MLMD_LOG_SASL_PASSWORD": "not-" + PASSWORD, "MLMD_LOG_CONNECT_TIMEOUT_S": "5"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert wrong.returncode != 0
    # A typed error naming the servers, as in the test above.
    assert re.search(rf"mlmd-log: (UnauthenticatedError|BrokerUnavailableError): .*{re.escape(secure.bootstrap)}",
                     wrong.stderr), wrong.stderr
    assert PASSWORD not in wrong.stderr + wrong.stdout
