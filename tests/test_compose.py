"""compose.yaml and the Dockerfile have the production shape (no Docker engine here: the structure is checked).

Kafka is genuine Apache Kafka in KRaft mode with a broker-API health check and a topic created on purpose
(auto-create off); `serve` owns the DuckDB file on a named volume and projects the topic itself; every
mlmd-log command in the file exists in the CLI with the options it is given; the image installs the
package as the repository lays it out and runs as a non-root user.
"""

from __future__ import annotations

import argparse
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlmd_log.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
TOPIC_URL = "kafka://kafka:9092/mlmd"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def _argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _flag(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def test_services_and_images(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "kafka-init", "server", "projector"} <= set(services)
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", services["kafka"]["image"])
    assert services["kafka-init"]["image"] == services["kafka"]["image"]
    for name in ("server", "projector"):
        assert services[name]["build"] == "."
        assert services[name]["image"] == "mlmd-log:latest"


def test_kafka_runs_kraft_with_its_data_on_a_volume_and_no_auto_create(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    kafka = services["kafka"]
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    assert "ZOOKEEPER" not in " ".join(env)
    assert len(env["CLUSTER_ID"]) == 22  # a base64url-encoded 16-byte id, as KRaft's storage format needs
    (volume,) = kafka["volumes"]
    source, target = volume.split(":")
    assert target == env["KAFKA_LOG_DIRS"] and source in compose["volumes"]
    assert kafka["restart"] == "unless-stopped"


def test_the_topic_is_created_to_keep_every_op_forever(services: dict[str, dict[str, Any]]) -> None:
    init = services["kafka-init"]
    argv = _argv(init)
    assert argv[0].endswith("kafka-topics.sh") and "--create" in argv and "--if-not-exists" in argv
    assert _flag(argv, "--topic") == "mlmd"
    assert _flag(argv, "--partitions") == "1"
    configs = dict(c.split("=", 1) for c in (argv[i + 1] for i, a in enumerate(argv) if a == "--config"))
    assert configs["retention.ms"] == "-1" and configs["retention.bytes"] == "-1"
    assert configs["cleanup.policy"] == "delete"
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert init["restart"] == "no"


def test_health_checks(services: dict[str, dict[str, Any]]) -> None:
    kafka_check = " ".join(services["kafka"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka_check and "localhost:9092" in kafka_check
    server_check = " ".join(services["server"]["healthcheck"]["test"])
    assert "create_connection" in server_check and "8080" in server_check
    for name in ("kafka", "server", "projector"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"] and check["retries"] >= 3


def test_server_owns_its_file_and_projects_the_topic(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    server = services["server"]
    argv = _argv(server)
    assert argv[0] == "serve"
    assert _flag(argv, "--log") == TOPIC_URL
    assert _flag(argv, "--db") == "/data/mlmd.duckdb"
    assert _flag(argv, "--host") == "0.0.0.0" and _flag(argv, "--port") == "8080"
    assert "8080:8080" in server["ports"]
    (volume,) = server["volumes"]
    assert volume.split(":") == ["mlmd-data", "/data"] and "mlmd-data" in compose["volumes"]
    assert server["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert server["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert server["restart"] == "unless-stopped"


def test_the_optional_projector_never_shares_the_servers_file(services: dict[str, dict[str, Any]]) -> None:
    projector = services["projector"]
    assert projector["profiles"] == ["projector"]  # off by default: serve projects
    argv = _argv(projector)
    assert argv[:2] == ["project", "--follow"]
    assert _flag(argv, "--log") == TOPIC_URL and _flag(argv, "--db") == "/data/mlmd.duckdb"
    (volume,) = projector["volumes"]
    (server_volume,) = services["server"]["volumes"]
    assert volume.split(":")[0] != server_volume.split(":")[0]  # one owner per DuckDB file


def test_every_mlmd_log_command_in_compose_exists_with_its_options(services: dict[str, dict[str, Any]]) -> None:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name in ("server", "projector"):
        argv = _argv(services[name])
        assert argv[0] in sub.choices, f"{name}: `mlmd-log {argv[0]}` is not a command"
        options = {o for action in sub.choices[argv[0]]._actions for o in action.option_strings}
        used = {a for a in argv if a.startswith("--")}
        assert used <= options, f"{name}: {sorted(used - options)} are not options of `mlmd-log {argv[0]}`"


# -- the Dockerfile ------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_dockerfile_shape() -> None:
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = " && ".join(args for op, args in steps if op == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs)
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert re.search(rf"useradd .*\b{re.escape(users[-1])}\b", runs)
    (entrypoint,) = [args for op, args in steps if op == "ENTRYPOINT"]
    assert entrypoint == '["mlmd-log"]'
    # The USER comes after the install (pip runs as root) and before the entrypoint.
    order = [op for op, _ in steps]
    assert order.index("RUN") < order.index("USER") < order.index("ENTRYPOINT")


def test_dockerfile_copies_what_pip_install_needs() -> None:
    copied = set()
    for op, args in _instructions():
        if op == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source.rstrip("/"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert needed <= copied, f"the image misses {sorted(needed - copied)}"


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for entry in (".git", ".venv", "tests", "bench", "*.duckdb"):
        assert entry in ignored
    for needed in ("pyproject.toml", "README.md", "mlmd_log", "schemas"):
        assert needed not in ignored


def test_the_console_script_the_image_runs_exists() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["mlmd-log"] == "mlmd_log.cli:main"
