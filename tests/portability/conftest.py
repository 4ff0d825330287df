"""A PostgreSQL server of this test session, started by the project's own script and stopped after it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "postgres.sh"


@dataclass(frozen=True)
class Postgres:
    """A server on 127.0.0.1 with one fresh database for this session."""

    port: int
    database: str

    @property
    def dsn(self) -> str:
        return f"postgresql://dangol@127.0.0.1:{self.port}/{self.database}"

    @property
    def dbt_env(self) -> dict[str, str]:
        """What dbt_project/profiles.yml reads to use its `postgres` output against this server."""
        return {
            "DANGOL_DBT_TARGET": "postgres",
            "DANGOL_PGHOST": "127.0.0.1",
            "DANGOL_PGPORT": str(self.port),
            "DANGOL_PGUSER": "dangol",
            "DANGOL_PGDATABASE": self.database,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """Own data dir and own port, so parallel sessions never share or stop each other's server.

    The data dir is in /var/tmp, not under the project or pytest's temp folders: run as root, the server
    runs as the `postgres` account, which must reach the folder, and a checkout (a CI workspace, a private
    temp folder) may be closed to other users."""
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    folder = base / f"dangol-postgres-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)  # the server's account passes through it to its own (700) data dir
    data = folder / "data"
    env = {**os.environ, "DANGOL_PGDATA": str(data), "DANGOL_PGPORT": str(_free_port())}
    started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr
    port = int(started.stdout.strip().rsplit(":", 1)[1].split("/")[0])
    try:
        con = psycopg2.connect(f"postgresql://dangol@127.0.0.1:{port}/postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("create database dangol_parity")
        con.close()
        yield Postgres(port, "dangol_parity")
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=120, check=False)
        shutil.rmtree(data.parent, ignore_errors=True)
