"""compose.yaml's topology run for real as processes on genuine Apache Kafka (no Docker engine needed).

The commands, environment and health checks come from compose.yaml itself, so the test fails when they stop
working: the ``kafka`` service's ``KAFKA_*`` environment becomes the node's ``server.properties`` the way the
apache/kafka image maps it, its storage is formatted with compose's ``CLUSTER_ID``, the ``kafka-init`` and
health-check argv run as the Kafka tool classes their ``/opt/kafka/bin`` scripts start, and the ``server``
service's argv runs as ``mlmd-log`` (the image's entrypoint) with its environment. Then ``mlmd-log demo
--bootstrap`` writes through the HOST listener (as a producer outside compose would) to compose's topic, and
MLMD's own gRPC client (ml-metadata 1.17.1, reference venv) reads what the demo wrote back from the server.

Only addresses and paths change, each by a rule stated where it is applied: service names resolve to loopback,
every port compose names gets a free loopback port, volume targets become temporary directories.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from apache_kafka import APACHE_KAFKA_VERSIONS, BROKER, TOOLS, KafkaNode, fetch, free_port

pytestmark = pytest.mark.apache

ROOT = Path(__file__).resolve().parents[1]
MLMD_LOG = Path(sys.executable).with_name("mlmd-log")
#: What each /opt/kafka/bin script compose runs starts (kafka-run-class.sh <class> "$@").
KAFKA_SCRIPTS = {
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-broker-api-versions.sh": "org.apache.kafka.tools.BrokerApiVersionsCommand",
}
HEALTHY_WITHIN_S = 120.0


def image_property(name: str) -> str:
    """The server.properties key of a ``KAFKA_*`` variable, as the apache/kafka image derives it: drop the
    prefix, lower-case, ``___`` -> ``-``, ``__`` -> ``_``, ``_`` -> ``.``."""
    key = name.removeprefix("KAFKA_").lower()
    return key.replace("___", "\0").replace("__", "\1").replace("_", ".").replace("\0", "-").replace("\1", "_")


@dataclass
class Topology:
    """compose.yaml's services with every compose address and path mapped onto this machine."""

    services: dict[str, dict[str, Any]]
    ports: dict[int, int]  # compose's port -> the free loopback port standing in for it
    volumes: dict[str, Path]  # a volume's mount target -> a temporary directory

    def localize(self, text: str) -> str:
        """``kafka:9092``, ``localhost:9094``, ``--port 8080``, ``0.0.0.0`` and ``/data/...`` as they exist here:
        the compose service name ``kafka`` and the all-interfaces bind become 127.0.0.1, each port compose names
        (with or without a host) its stand-in, a volume's mount target its directory."""
        def address(match: re.Match[str]) -> str:
            host, port = match.group(1), int(match.group(2))
            if port not in self.ports:
                return match.group(0)
            if host is not None:
                host = "127.0.0.1:" if host in ("kafka:", ":") else host
            return f"{host or ''}{self.ports[port]}"

        text = re.sub(r"(?<![\w.])((?:kafka|localhost|127\.0\.0\.1)?:)?(\d{4,5})(?![\w.])", address, text)
        text = "127.0.0.1" if text == "0.0.0.0" else text
        for target, directory in self.volumes.items():
            if text == target or text.startswith(target + "/"):
                text = str(directory) + text[len(target):]
        return text

    def argv(self, service: str) -> list[str]:
        command = self.services[service]["command"]
        words = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        return [self.localize(word) for word in words]

    def environment(self, service: str) -> dict[str, str]:
        return {k: self.localize(str(v)) for k, v in (self.services[service].get("environment") or {}).items()}


def _load(tmp: Path) -> Topology:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    kafka_env = services["kafka"]["environment"]
    # Every port a listener names, and the server's published port, get free loopback ports (the host's own
    # 9092-9094 and 8080 may be taken; compose publishes them, a test must not need them).
    compose_ports = {int(p) for p in re.findall(r":(\d+)", kafka_env["KAFKA_LISTENERS"])}
    compose_ports |= {int(p.split(":")[-1]) for p in services["server"]["ports"]}
    volumes = {}
    for name in ("kafka", "server"):
        for volume in services[name]["volumes"]:
            source, target = volume.split(":")
            volumes[target] = tmp / source
            volumes[target].mkdir()
    return Topology(services, {p: free_port() for p in sorted(compose_ports)}, volumes)


def _kafka_tool(node: KafkaNode, tools: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run an /opt/kafka/bin script's argv as the class it starts, with the JDK and Kafka's tools jars."""
    script, *args = argv
    command = dataclasses.replace(node, libs=tools).java(KAFKA_SCRIPTS[Path(script).name], *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _healthcheck(topology: Topology, service: str) -> list[str]:
    """The service's health-check command, localized; ``CMD`` runs python as this interpreter."""
    kind, *test = topology.services[service]["healthcheck"]["test"]
    if kind == "CMD-SHELL":
        (line,) = test
        test = shlex.split(line.split(">")[0])
    words = [topology.localize(word) for word in test]
    return [sys.executable, *words[1:]] if words[0] == "python" else words


def _until_healthy(check: list[str], run: Any, what: str, alive: Any) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    while True:
        done = run(check)
        if done.returncode == 0:
            return
        assert alive(), f"{what} exited before it was healthy"
        assert time.monotonic() < deadline, f"{what} not healthy within {HEALTHY_WITHIN_S:.0f} s: {done.stderr[-2000:]}"
        time.sleep(1)


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Everything the test starts; stopped (TERM, then KILL) in reverse order however the test ends."""
    started: list[Any] = []
    yield started
    for process in reversed(started):
        if isinstance(process, KafkaNode):
            process.stop()
        elif process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_compose_topology_serves_the_demo_to_mlmds_own_client(tmp_path: Path, processes: list[Any]) -> None:
    from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, run_reference

    version = APACHE_KAFKA_VERSIONS["apache"]
    libs, tools = fetch(version, BROKER), fetch(version, TOOLS)
    topology = _load(tmp_path)

    # -- kafka: its KAFKA_* environment as server.properties, storage formatted with compose's CLUSTER_ID.
    env = topology.environment("kafka")
    properties = {image_property(k): v for k, v in env.items() if k.startswith("KAFKA_")}
    # `PLAINTEXT://:9092` binds every interface in the container; localized, the listeners bind loopback only.
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", properties["listeners"]))
    inter_broker = properties["inter.broker.listener.name"]
    node = KafkaNode(int(properties["node.id"]), int(listeners[inter_broker]),
                     int(listeners[properties["controller.listener.names"]]), tmp_path / "kafka", libs)
    node.home.mkdir()
    node.config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    formatted = subprocess.run(node.java("kafka.tools.StorageTool", "format", "-t", env["CLUSTER_ID"],
                                         "-c", str(node.config)), capture_output=True, text=True, check=False)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    node.start()
    processes.append(node)
    _until_healthy(_healthcheck(topology, "kafka"), lambda c: _kafka_tool(node, tools, c),
                   "kafka", node.alive)

    # -- kafka-init: compose's topic command; compose reruns it on every `up`, so twice must succeed.
    init = topology.argv("kafka-init")
    for _ in range(2):
        created = _kafka_tool(node, tools, init)
        assert created.returncode == 0, created.stdout + created.stderr
    topic = init[init.index("--topic") + 1]

    # -- server: the image's entrypoint (mlmd-log) with compose's argv and environment.
    server_argv = topology.argv("server")
    port = int(server_argv[server_argv.index("--port") + 1])
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([str(MLMD_LOG), *server_argv], env={**os.environ, **topology.environment("server")},
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    processes.append(server)
    _until_healthy(_healthcheck(topology, "server"),
                   lambda c: subprocess.run(c, capture_output=True, text=True, check=False),
                   "server", lambda: server.poll() is None)

    # -- a producer outside compose: the demo through the HOST listener (advertised as localhost:9094).
    host_listener = next(a for a in properties["advertised.listeners"].split(",") if a.startswith("HOST://"))
    bootstrap = host_listener.removeprefix("HOST://")
    demo = subprocess.run([str(MLMD_LOG), "demo", "--bootstrap", bootstrap, "--topic", topic,
                           "--db", str(tmp_path / "demo.duckdb")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert f"log:        kafka://{bootstrap}/{topic} (Kafka)" in demo.stdout
    lines = demo.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Lineage of model "))
    model = int(lines[start].split()[3])
    tree = lines[start + 1:lines.index("", start)]
    expected = {(name, int(number)) for line in tree for name, number in re.findall(r"\b([A-Z]\w+) (\d+)\b", line)}

    # -- MLMD's own gRPC client reads the server's projection of what the demo wrote.
    try:
        done = run_reference(Path(__file__).with_name("mlmd_compose_client.py"), "127.0.0.1", str(port),
                             str(model), timeout=300)
    except ReferenceUnavailableError as err:
        pytest.fail(f"ml-metadata {MLMD_VERSION} reference venv unavailable: {err}")
    except subprocess.CalledProcessError as err:
        raise AssertionError(f"MLMD's client failed:\n{err.stderr.decode()[-3000:]}\nserver log:\n"
                             f"{(tmp_path / 'server.log').read_text()[-3000:]}") from err
    read = json.loads(done.stdout)
    assert {"Model", "Examples", "Trainer", "Transform"} <= {name for name, _ in expected}
    assert {name for name, _ in expected} <= set(read["artifact_types"]) | set(read["execution_types"])
    assert {(name, number) for name, number in read["lineage"]} == expected
    assert server.poll() is None, "the server exited"
