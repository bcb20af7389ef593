"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries (package
``postgresql``, installed by ``bin/install-system-deps``), a data folder and a socket folder
under /tmp, no TCP port, removed at the end. As root (CI), the server runs as the
``postgres`` user the package creates, since PostgreSQL refuses to run as root."""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def server_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian keeps them off PATH, per version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """One server with a fresh database per test (:meth:`new_database`)."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: fsync on, as a production server (for benchmarks); tests run without."""
        bindir = server_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server is not installed (Debian package postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="capg"))  # short: a socket path has at most 107 bytes
        self.data = self.root / "data"
        self.socket = self.root / "sock"
        self.socket.mkdir()
        self._as: list[str] = []
        self.user = "postgres"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count(1)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
        options = f"-k {self.socket} -c listen_addresses='' -c max_connections=60"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
