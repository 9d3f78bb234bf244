"""Processes for a run: servers pinned to a core, wrk on another, databases made and dropped."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command

from fastapi_auth.migrations.config import alembic_config

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
READY_TIMEOUT_SECONDS = 60.0
PR_SET_PDEATHSIG = 1
WRK_HINT = "wrk is not installed: `apt-get install wrk` (Debian's package) and run again."


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_HINT)
    return wrk


@dataclass(frozen=True)
class Cores:
    """Where each process runs: the server on one core, the load generators on the others.

    `server` is None when pinning is impossible (no taskset, or a single core); then
    everything shares every core and the report says so."""

    server: str | None
    load: str | None
    all: str | None

    @classmethod
    def detect(cls) -> Cores:
        cpus = sorted(os.sched_getaffinity(0))
        if shutil.which("taskset") is None or len(cpus) < 2:
            return cls(None, None, None)
        return cls(
            server=str(cpus[0]),
            load=",".join(str(cpu) for cpu in cpus[1:]),
            all=",".join(str(cpu) for cpu in cpus),
        )

    def prefix(self, cpus: str | None) -> list[str]:
        return ["taskset", "-c", cpus] if cpus is not None else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_status(port: int, path: str) -> int | None:
    """One plain GET; None while nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = connection.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the runner dies, even by SIGKILL, so no server is
    left behind holding a port and database connections."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Server:
    """A server process in its own process group, so stopping it leaves nothing behind.

    A process group, not a session of its own: Linux schedules each session as one group
    (autogroup), weighed like any other whatever its number of threads and their nice
    levels. With the server in a session apart, during the login storm the kernel held
    the probe (a client in the runner's session, sharing a core with the hashing threads)
    off the CPU for up to 200 ms at a time, and the probe counted that as the server's
    latency; the server's own event loop never waited more than 13 ms (measured). In one
    session the nice level the hashing threads take applies to the clients too, as it
    would to anything else on a machine that runs the service."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        ready_path: str,
        wrapper: list[str] | None = None,
    ) -> None:
        self.name, self.command, self.env, self.cwd = name, command, env, cwd
        self.ready_path = ready_path
        self.wrapper = wrapper or []
        """A profiler that starts the server as its child (py-spy record -- ...)."""
        self.port = free_port()
        self.log_path = cwd / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, cores: Cores) -> float:
        """Starts the server and returns the seconds until it answered its first request."""
        command = [
            *self.wrapper,
            *cores.prefix(cores.server),
            *self.command,
            "--port",
            str(self.port),
        ]
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=die_with_parent,
            )
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if http_status(self.port, self.ready_path) == 200:
                return time.monotonic() - started
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {READY_TIMEOUT_SECONDS} s")

    @property
    def pid(self) -> int:
        """The server's own process, below the profiler when there is one."""
        assert self.process is not None
        if not self.wrapper:
            return self.process.pid
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return int(children.read_text().split()[0])

    def allow_cores(self, cpus: str | None) -> None:
        """Moves every thread of the server (and the threads they start later) to `cpus`."""
        if cpus is not None:
            subprocess.run(
                ["taskset", "-a", "-p", "-c", cpus, str(self.pid)],
                check=True,
                stdout=subprocess.DEVNULL,
            )

    def cpu_seconds(self) -> float:
        """User and system time of every thread so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            # SIGINT: uvicorn shuts down cleanly and a profiler writes its output.
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    detail: dict[str, Any]
    server_cpu: float | None = None
    """Cores the server kept busy on average (CPU seconds per second), when measured."""
    server_rss_mib: float | None = None
    """The server's resident memory right after the measurement."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    script_names: list[str],
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    args: list[str],
    cores: Cores,
    workdir: Path,
) -> WrkResult:
    """wrk with threads.lua, the scenario's script and report.lua joined into one file (wrk
    takes a single script)."""
    script = workdir / f"{script_names[-1] if script_names else 'get'}.lua"
    parts = ["threads.lua", *(f"{name}.lua" for name in script_names), "report.lua"]
    script.write_text("\n".join((BENCHMARKS_DIR / part).read_text() for part in parts))
    command = [
        *cores.prefix(cores.load),
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        *args,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            errors = sum(raw[key] for key in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                errors=errors,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                detail=raw,
            )
    raise RuntimeError(
        f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
    )


def start_probe(
    port: int, tokens: Path, rate: float, seconds: float, cores: Cores
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *cores.prefix(cores.load),
            sys.executable,
            "-m",
            "benchmarks.openloop",
            "--port",
            str(port),
            "--tokens",
            str(tokens),
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
        ],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )


def probe_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the open-loop probe failed ({process.returncode})")
    result: dict[str, Any] = json.loads(output)
    return result


@dataclass
class BenchDatabase:
    backend: str
    url: str
    admin_url: str | None = None
    name: str | None = None

    @classmethod
    def create(cls, backend: str, workdir: Path, postgres_admin_url: str) -> BenchDatabase:
        if backend == "sqlite":
            database = cls(backend, f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
        else:
            name = f"fastapi_auth_bench_{uuid.uuid4().hex[:10]}"
            asyncio.run(_admin(postgres_admin_url, f'CREATE DATABASE "{name}"'))
            base = postgres_admin_url.rsplit("/", 1)[0]
            url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
            database = cls(backend, url, postgres_admin_url, name)
        command.upgrade(alembic_config(database_url=database.url), "head")
        return database

    def pin_backends(self, cpus: str | None) -> None:
        """Keeps PostgreSQL's work for this database off the server's core: the database
        would sit on its own machine in production, and here it would otherwise steal the
        measured worker's core (the kernel likes to wake a backend where its client runs)."""
        if cpus is None or self.admin_url is None:
            return
        pids = asyncio.run(_backend_pids(self.admin_url, self.name))
        for pid in pids:
            subprocess.run(
                ["taskset", "-a", "-p", "-c", cpus, str(pid)],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def drop(self) -> None:
        if self.admin_url is not None and self.name is not None:
            asyncio.run(
                _admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            )


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _backend_pids(admin_url: str, name: str | None) -> list[int]:
    connection = await asyncpg.connect(admin_url)
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


def postgres_answers(admin_url: str) -> str | None:
    """The server's version, or None when nothing answers."""

    async def version() -> str:
        connection = await asyncpg.connect(admin_url, timeout=3)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return asyncio.run(version())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
