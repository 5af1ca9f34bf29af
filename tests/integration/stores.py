"""Real Redis and PostgreSQL servers on loopback, for the cluster Feast profile's tests.

The binaries come from Debian's packages (`make tools`, run first by `make test`, installs them).
Each server lives in a temporary directory, listens on a free loopback port, requires a password,
and is stopped with the fixture. PostgreSQL refuses to run as root, so under root (as in CI) its
commands run as the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from installed import installed

from fraud_detection.serving.local_server import free_port


@dataclass(frozen=True)
class Store:
    port: int
    password: str


def _wait_until(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} did not start within {timeout_s} s"
        time.sleep(0.2)


@contextmanager
def redis_server(directory: Path) -> Iterator[Store]:
    store = Store(port=free_port(), password=secrets.token_hex(16))
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [installed("redis-server"), "--port", str(store.port), "--bind", "127.0.0.1",
         "--requirepass", store.password, "--dir", str(directory), "--save", "",
         "--appendonly", "no"],
        stdout=(directory / "redis.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=store.port, password=store.password)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                assert process.poll() is None, (directory / "redis.log").read_text()
                return False

        _wait_until(answers, "redis-server")
        yield store
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def postgres_server(directory: Path) -> Iterator[Store]:
    """A fresh cluster with database and user `feast`, password-protected over TCP."""
    store = Store(port=free_port(), password=secrets.token_hex(16))
    initdb = installed("initdb", "/usr/lib/postgresql/*/bin/initdb")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    as_user: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        # A directory of that user's own, outside pytest's temporary tree: pytest makes that
        # tree's root private again whenever a pytest starts (the template tests start some).
        directory = Path(tempfile.mkdtemp(prefix="fraud-postgres-"))
        shutil.chown(directory, "postgres")
    data, password_file = directory / "data", directory / "password"
    password_file.write_text(store.password)
    if as_user:
        shutil.chown(password_file, "postgres")

    def run(*args: str) -> None:
        result = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"

    run(initdb, "-D", str(data), "-U", "feast", "--auth=scram-sha-256",
        f"--pwfile={password_file}", "--no-sync")  # fmt: skip
    run(pg_ctl, "-D", str(data), "-l", str(directory / "postgres.log"), "-w", "start", "-o",
        f"-p {store.port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off")  # fmt: skip
    try:
        import psycopg

        url = f"host=127.0.0.1 port={store.port} user=feast password={store.password}"
        with psycopg.connect(f"{url} dbname=postgres", autocommit=True) as connection:
            connection.execute("CREATE DATABASE feast")
        yield store
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        if as_user:
            shutil.rmtree(directory, ignore_errors=True)
