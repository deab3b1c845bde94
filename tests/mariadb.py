"""A real MariaDB server for tests: Debian's ``mariadb-server`` binaries, a fresh data directory, a free port.

Without the binaries the test skips, naming the package, or fails where ``MLMD_LOG_REQUIRE`` names ``mariadb``
(``.ci/run`` installs ``mariadb-server`` and does; tests/needs.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from needs import unavailable

USER, PASSWORD = "mlmd", "mlmd-test-secret"


@dataclass
class MariaDB:
    host: str
    port: int
    socket: str
    process: subprocess.Popen[bytes]

    def url(self, database: str, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"mysql://{USER}{secret}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import pymysql

        con = pymysql.connect(unix_socket=self.socket, user="root")
        try:
            con.cursor().execute(f"CREATE DATABASE `{name}`")
        finally:
            con.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mariadb(root: Path) -> MariaDB:
    install, server = shutil.which("mariadb-install-db"), shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
    if install is None or server is None:
        unavailable("mariadb", "MariaDB's binaries are not installed (Debian: apt-get install -y mariadb-server)")
    data, sock = root / "data", root / "mariadb.sock"
    subprocess.run([install, f"--datadir={data}", "--user=root", "--auth-root-authentication-method=socket"],
                   check=True, capture_output=True, timeout=300)
    port = _free_port()
    log = open(root / "mariadb.log", "wb")  # noqa: SIM115  # lives as long as the server
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={sock}", "--user=root", "--skip-log-bin", f"--pid-file={root / 'mariadb.pid'}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    db = MariaDB("127.0.0.1", port, str(sock), process)
    deadline = time.monotonic() + 60
    import pymysql

    while True:
        try:
            con = pymysql.connect(unix_socket=str(sock), user="root")
            break
        except pymysql.err.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                db.stop()
                pytest.fail(f"MariaDB did not start: {(root / 'mariadb.log').read_text()[-2000:]}")
            time.sleep(0.2)
    try:
        cur = con.cursor()
        for host in ("%", "localhost"):  # 'localhost' too: an anonymous ''@'localhost' would shadow '%'
            cur.execute(f"CREATE USER '{USER}'@'{host}' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'{host}'")
    finally:
        con.close()
    return db
