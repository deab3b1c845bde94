"""Genuine Apache Kafka for the tests: fetch a pinned release from Maven Central, run it in KRaft mode on loopback.

Independent of mlmd_log (only the standard library), so it can run alone::

    python3 tests/apache_kafka.py fetch              # the 4.x release (APACHE_KAFKA_VERSIONS["apache"])
    python3 tests/apache_kafka.py fetch --version 3.9.1
    python3 tests/apache_kafka.py fetch --artifact kafka-tools   # the CLI tools' classes (TopicCommand, ...)
    python3 tests/apache_kafka.py run --nodes 3       # a cluster on free loopback ports until Ctrl-C

What it does:

* ``fetch``: writes a one-dependency Maven project for ``org.apache.kafka:kafka_2.13:<version>`` and runs
  ``mvn dependency:copy-dependencies`` (runtime scope) into ``<cache>/kafka/<version>/libs`` (``--artifact
  kafka-tools``: the CLI tools' classes, into ``<cache>/kafka/<version>-kafka-tools/libs``). The cache is
  ``$MLMD_LOG_KAFKA_CACHE``, else ``.cache/`` in the repository; Maven's own repository goes to
  ``<cache>/m2``. A finished fetch leaves a ``complete`` marker, so later runs use no network.
* ``KafkaCluster``: N combined broker+controller nodes (``process.roles=broker,controller``, a static
  ``controller.quorum.voters``), each with a generated ``server.properties``, storage formatted by
  ``kafka.tools.StorageTool`` and the broker run as ``java -cp <libs>/* kafka.Kafka``. Optional SASL_SSL
  (SCRAM-SHA-512) listener: the user is created at format time (``--add-scram``).
* Java (``java``) or Maven (``mvn``) missing: :class:`KafkaUnavailableError` names the missing tool and how to get it.

Data lives in the node's directory, so :meth:`KafkaNode.restart` keeps the log (unlike tansu's memory storage).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Broker kinds of tests/broker.py and the pinned release each runs.
APACHE_KAFKA_VERSIONS = {"apache": "4.4.0", "apache3": "3.9.1"}
CACHE_ENV = "MLMD_LOG_KAFKA_CACHE"
JAVA_OPTS_ENV = "MLMD_LOG_KAFKA_HEAP"
REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90.0
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mlmd-log.test</groupId><artifactId>apache-{artifact}-{version}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>
  </dependencies>
</project>
"""


class KafkaUnavailableError(RuntimeError):
    """Apache Kafka cannot be fetched or started here; the message says what is missing."""


@dataclass(frozen=True)
class Scram:
    """A SASL_SSL listener with one SCRAM-SHA-512 user; ``keystore`` holds the broker's key and certificate
    (PKCS12, e.g. from :func:`make_keystore`)."""

    user: str
    password: str
    keystore: Path
    store_password: str


def make_keystore(directory: Path, store_password: str) -> tuple[Path, Path]:
    """A self-signed broker certificate for 127.0.0.1 made with the JDK's keytool: (PKCS12 keystore, PEM
    certificate for clients to trust)."""
    keytool = _require("keytool", "make the broker's TLS certificate")
    keystore, certificate = directory / "broker.p12", directory / "broker-ca.pem"
    common = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", store_password, "-alias", "broker"]
    for args in (
        ["-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-dname", "CN=127.0.0.1",
         "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keypass", store_password],
        ["-exportcert", "-rfc", "-file", str(certificate)],
    ):
        done = subprocess.run([keytool, *args, *common], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaUnavailableError(f"keytool failed: {(done.stdout + done.stderr)[-2000:]}")
    return keystore, certificate


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or REPO / ".cache").resolve()


def _require(tool: str, purpose: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise KafkaUnavailableError(
            f"`{tool}` is not on PATH: it is needed to {purpose}. Install a JDK 17+ and Maven "
            "(Debian: apt-get install openjdk-17-jdk-headless maven), or run the tests on tansu "
            "(MLMD_LOG_TEST_BROKER=tansu, the default)."
        )
    return path


#: The broker's artifact; :data:`TOOLS` holds the command-line tools' classes (``kafka-topics.sh`` runs
#: ``org.apache.kafka.tools.TopicCommand``), which the broker's runtime dependencies do not include.
BROKER, TOOLS = "kafka_2.13", "kafka-tools"


def fetch(version: str, artifact: str = BROKER) -> Path:
    """The directory of jars of Apache Kafka ``version``'s ``artifact`` with its runtime dependencies (fetched
    with Maven once, then cached)."""
    root = cache_dir() / "kafka" / (version if artifact == BROKER else f"{version}-{artifact}")
    libs = root / "libs"
    if (root / "complete").exists():
        return libs
    mvn = _require("mvn", f"fetch Apache Kafka {version} ({artifact}) from Maven Central")
    _require("java", "run Maven and the Apache Kafka broker")
    root.mkdir(parents=True, exist_ok=True)
    (root / "pom.xml").write_text(_POM.format(version=version, artifact=artifact))
    shutil.rmtree(libs, ignore_errors=True)
    command = [
        mvn, "-B", "-q", f"-Dmaven.repo.local={cache_dir() / 'm2'}", "-f", str(root / "pom.xml"),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any(libs.glob(f"{artifact}-{version}.jar")):
        raise KafkaUnavailableError(
            f"Maven could not fetch org.apache.kafka:{artifact}:{version} (exit {done.returncode}):\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    (root / "complete").write_text(version + "\n")
    return libs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


@dataclass
class KafkaNode:
    """One combined broker+controller node; its data directory outlives restarts."""

    node_id: int
    port: int
    controller_port: int
    home: Path
    libs: Path
    sasl_port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    def java(self, main: str, *args: str) -> list[str]:
        heap = os.environ.get(JAVA_OPTS_ENV, "-Xms64m -Xmx384m")
        return [
            _require("java", "run the Apache Kafka broker"), *heap.split(), "-XX:+UseSerialGC",
            "-Djava.awt.headless=true", f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def start(self) -> None:
        self.starts += 1
        out = (self.home / f"broker.{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            self.java("kafka.Kafka", str(self.config)),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        out.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_listening(self, deadline: float) -> None:
        while not _port_open(self.port):
            if not self.alive():
                raise KafkaUnavailableError(f"Apache Kafka node {self.node_id} exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise KafkaUnavailableError(f"Apache Kafka node {self.node_id} not listening on {self.address}\n"
                                       f"{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        path = self.home / f"broker.{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a crash."""
        self._stop(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (Kafka's controlled shutdown), SIGKILL after 30 s."""
        self._stop(signal.SIGTERM)

    def _stop(self, sig: int) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()
        self.wait_listening(time.monotonic() + START_TIMEOUT_S)


class KafkaCluster:
    """``nodes`` Apache Kafka nodes of ``version`` on free loopback ports, in a fresh directory."""

    def __init__(self, version: str, nodes: int = 1, scram: Scram | None = None) -> None:
        self.version = version
        self.libs = fetch(version)
        self.scram = scram
        self._dir = tempfile.TemporaryDirectory(prefix=f"mlmd-log-kafka-{version}-")
        root = Path(self._dir.name)
        self.nodes = [
            KafkaNode(i, free_port(), free_port(), root / f"node{i}", self.libs,
                      free_port() if scram is not None else None)
            for i in range(1, nodes + 1)
        ]
        self.cluster_id = _cluster_id()
        for node in self.nodes:
            node.home.mkdir()
            node.config.write_text(self._properties(node))
            self._format(node)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    @property
    def sasl_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{node.sasl_port}" for node in self.nodes)

    def _properties(self, node: KafkaNode) -> str:
        n = len(self.nodes)
        replicas = min(3, n)
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self.nodes)
        listeners = [f"PLAINTEXT://127.0.0.1:{node.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={node.home / 'data'}",
            f"offsets.topic.replication.factor={replicas}",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={min(2, replicas)}",
            "group.initial.rebalance.delay.ms=0",
            "num.partitions=1",
            "num.network.threads=2",
            "num.io.threads=2",
            "log.flush.interval.messages=9223372036854775807",
            "unclean.leader.election.enable=false",
            # The leader of a killed node's partitions moves within seconds (the default is 9 s + 18 s).
            "broker.session.timeout.ms=6000",
            "broker.heartbeat.interval.ms=500",
            "controlled.shutdown.enable=true",
        ]
        if self.scram is not None:
            listeners.append(f"SASL_SSL://127.0.0.1:{node.sasl_port}")
            protocols.append("SASL_SSL:SASL_SSL")
            s = self.scram
            lines += [
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                f"ssl.keystore.location={s.keystore}",
                "ssl.keystore.type=PKCS12",
                f"ssl.keystore.password={s.store_password}",
                f"ssl.key.password={s.store_password}",
            ]
        listeners.append(f"CONTROLLER://127.0.0.1:{node.controller_port}")
        lines.insert(0, "listeners=" + ",".join(listeners))
        lines.insert(1, "advertised.listeners=" + ",".join(x for x in listeners if not x.startswith("CONTROLLER")))
        lines.insert(2, "listener.security.protocol.map=" + ",".join(protocols))
        return "\n".join(lines) + "\n"

    def _format(self, node: KafkaNode) -> None:
        args = ["format", "-t", self.cluster_id, "-c", str(node.config), "--ignore-formatted"]
        if self.scram is not None:
            args += ["--add-scram", f"SCRAM-SHA-512=[name={self.scram.user},password={self.scram.password}]"]
        done = subprocess.run(node.java("kafka.tools.StorageTool", *args), capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise KafkaUnavailableError(f"formatting KRaft storage for node {node.node_id} failed:\n"
                                   f"{(done.stdout + done.stderr)[-3000:]}")

    def start(self, timeout_s: float = START_TIMEOUT_S) -> KafkaCluster:
        """Start every node; return once each listens (the caller checks that the cluster answers)."""
        for node in self.nodes:
            node.start()
        deadline = time.monotonic() + timeout_s
        try:
            for node in self.nodes:
                node.wait_listening(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def node_at(self, address: str) -> KafkaNode:
        return next(node for node in self.nodes if address in (node.address, f"127.0.0.1:{node.sasl_port}"))

    def stop(self) -> None:
        for node in self.nodes:
            node.kill() if len(self.nodes) > 1 else node.stop()

    def destroy(self) -> None:
        self.stop()
        self._dir.cleanup()


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("fetch", "run"):
        command = sub.add_parser(name)
        command.add_argument("--version", default=APACHE_KAFKA_VERSIONS["apache"])
    sub.choices["fetch"].add_argument("--artifact", default=BROKER, choices=(BROKER, TOOLS))
    sub.choices["run"].add_argument("--nodes", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch(args.version, args.artifact))
            return 0
        cluster = KafkaCluster(args.version, args.nodes).start()
    except KafkaUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Apache Kafka {args.version}: bootstrap {cluster.bootstrap} (Ctrl-C stops it)", flush=True)
    try:
        while all(node.alive() for node in cluster.nodes):
            time.sleep(0.5)
        print("a node exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
