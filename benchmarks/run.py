"""`make bench`: the service against a bare FastAPI app, on SQLite and PostgreSQL.

    python -m benchmarks.run [--backend sqlite|postgresql|both] [--duration 10]
                             [--scenarios me,refresh,register,login,storm]

For each backend: a fresh database (PostgreSQL: created on 127.0.0.1:5432 and
dropped after), seeded verified users and sessions, the service and the bare
app each started as one uvicorn worker pinned to one core, and wrk on the other
core. Prints a table with every figure also as a ratio to the bare endpoint
measured in the same run, writes it as JSON under benchmarks/results/, and (on
a full run) puts the table in benchmarks/README.md. See that README for the
method and the reasons behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.harness import (
    BENCHMARKS_DIR,
    REPO_DIR,
    BenchDatabase,
    Cores,
    Server,
    WrkResult,
    postgres_answers,
    probe_result,
    require_wrk,
    run_wrk,
    start_probe,
)
from benchmarks.seed import PASSWORD, seed
from fastapi_auth.kernel.settings import Settings

SCENARIOS = ("me", "refresh", "register", "login", "storm")
BACKENDS = ("sqlite", "postgresql")
HASHING_CLIENTS = 16
WRK_THREADS = 2
RESULTS_DIR = BENCHMARKS_DIR / "results"
README = BENCHMARKS_DIR / "README.md"
TABLE_START, TABLE_END = "<!-- bench:table:start -->", "<!-- bench:table:end -->"
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "pyjwt",
    "argon2-cffi",
)

TARGETS = {
    "me_ratio": 0.35,
    "refresh_ratio": 0.20,
    "login_rps": 30.0,
    "storm_p99_over_idle": 5.0,
    "startup_s": 2.0,
    "rss_mib": 150.0,
}


@dataclass(frozen=True)
class Options:
    backends: tuple[str, ...]
    scenarios: tuple[str, ...]
    duration: float
    warmup: float
    connections: int
    users: int
    probe_rate: float
    postgres_url: str
    workdir: Path
    profile: Path | None
    service_python: Path
    """The interpreter the servers run on: `make bench` gives them a virtualenv with the
    package's own dependencies only, as deployed. The development one would add what the
    tools bring (trustme brings cryptography, which PyJWT loads: 10 MiB of the worker's
    memory)."""


# -- one backend ------------------------------------------------------------------------


def service_command(python: Path) -> list[str]:
    script = python.with_name("fastapi-auth")
    launcher = (
        [str(script)]
        if script.exists()
        else [str(python), "-c", "from fastapi_auth.cli import app; app()"]
    )
    return [*launcher, "serve", "--host", "127.0.0.1", "--no-migrate", "--no-access-log"]


def clean_environment() -> dict[str, str]:
    """The caller's environment without any of the service's settings, so nothing from the
    shell (a DB_URL, an EMAIL_HOST) leaks into the measured configuration."""
    names = {name.upper() for name in Settings.model_fields}
    return {key: value for key, value in os.environ.items() if key.upper() not in names}


def service_settings(database_url: str, secret: str) -> dict[str, str]:
    """Production mode with the defaults, but for the rate limits: a load test from one
    address would otherwise measure 429s. Production wants a public `FRONTEND_URL`; no
    emailed link is followed here."""
    return {
        "ENVIRONMENT": "production",
        "FRONTEND_URL": "https://accounts.example.com",
        "DB_URL": database_url,
        "JWT_SECRET": secret,
        "RATE_LIMIT_ENABLED": "false",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "60",
    }


def row(result: WrkResult, clients: int) -> dict[str, Any]:
    return {
        "clients": clients,
        "requests": result.requests,
        "seconds": round(result.seconds, 2),
        "rps": round(result.rps, 1),
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
        "max_ms": round(result.max_ms, 2),
        "errors": result.errors,
        "server_cpu": result.server_cpu,
        "server_rss_mib": result.server_rss_mib,
        "wrk": result.detail,
    }


def run_backend(backend: str, options: Options, cores: Cores) -> dict[str, Any]:
    workdir = options.workdir / backend
    workdir.mkdir(parents=True)
    log(f"[{backend}] creating and migrating the database")
    database = BenchDatabase.create(backend, workdir, options.postgres_url)
    try:
        return measure(backend, database, options, cores, workdir)
    finally:
        database.drop()


def measure(
    backend: str, database: BenchDatabase, options: Options, cores: Cores, workdir: Path
) -> dict[str, Any]:
    secret = secrets.token_urlsafe(48)
    env = clean_environment()
    settings_env = service_settings(database.url, secret)
    settings = Settings.model_validate(
        {name.lower(): value for name, value in settings_env.items()}
    )
    spare = max(256, options.connections * 8)
    log(f"[{backend}] seeding {options.users} verified users and their sessions")
    seeded = asyncio.run(
        seed(
            settings,
            workdir,
            users=options.users,
            me_sessions=min(options.users, 1000),
            refresh_sessions={"warmup": spare, "measured": spare},
        )
    )
    bare = Server(
        "bare",
        [str(options.service_python), "-m", "benchmarks.bare_app", "--host", "127.0.0.1"],
        {**env, "PYTHONPATH": str(REPO_DIR)},
        workdir,
        "/bare",
    )
    wrapper = None
    if options.profile is not None:
        options.profile.mkdir(parents=True, exist_ok=True)
        output = options.profile / f"{backend}-{'-'.join(options.scenarios)}.txt"
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        wrapper = [
            py_spy,
            "record",
            "--rate",
            "250",
            "--native",
            "--format",
            "raw",
            "-o",
            str(output),
            "--",
        ]
    service = Server(
        "service",
        service_command(options.service_python),
        {**env, **settings_env},
        workdir,
        "/health/live",
        wrapper,
    )
    rows: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {"backend": backend, "rows": rows}
    bare_url = f"http://127.0.0.1:{bare.port}/bare"
    service_url = f"http://127.0.0.1:{service.port}"
    wants = set(options.scenarios)

    def wrk(scripts: list[str], url: str, clients: int, args: list[str], warm: bool) -> WrkResult:
        def load(seconds: float) -> WrkResult:
            return run_wrk(
                scripts,
                url,
                threads=min(WRK_THREADS, clients),
                connections=clients,
                seconds=seconds,
                args=args,
                cores=cores,
                workdir=workdir,
            )

        if warm and options.warmup > 0:
            load(options.warmup)
        server = service if url.startswith(service_url) else bare
        database.pin_backends(cores.load)
        cpu_before = server.cpu_seconds()
        measured = load(options.duration)
        busy = (server.cpu_seconds() - cpu_before) / measured.seconds
        return dataclasses.replace(
            measured, server_cpu=round(busy, 2), server_rss_mib=round(server.rss_mib(), 1)
        )

    try:
        bare.start(cores)
        result["startup_s"] = round(service.start(cores), 3)
        log(f"[{backend}] service answered {result['startup_s']} s after it was started")
        result["rss_after_start_mib"] = round(service.rss_mib(), 1)
        clients = options.connections
        threads_arg = str(min(WRK_THREADS, clients))
        if "me" in wants:
            log(f"[{backend}] bare GET, then me")
            rows["bare_get"] = row(wrk([], bare_url, clients, [], warm=True), clients)
            rows["me"] = row(
                wrk(["me"], service_url, clients, [str(seeded.me_tokens), threads_arg], True),
                clients,
            )
        if wants & {"refresh", "register", "login"}:
            log(f"[{backend}] bare POST")
            token = "x" * 43
            rows["bare_post"] = row(
                wrk(["bare_post"], bare_url, clients, [token], warm=True), clients
            )
        if "refresh" in wants:
            log(f"[{backend}] refresh")
            if options.warmup > 0:
                run_wrk(
                    ["refresh"],
                    service_url,
                    threads=min(WRK_THREADS, clients),
                    connections=clients,
                    seconds=options.warmup,
                    args=[str(seeded.refresh_tokens["warmup"]), threads_arg],
                    cores=cores,
                    workdir=workdir,
                )
            rows["refresh"] = row(
                wrk(
                    ["refresh"],
                    service_url,
                    clients,
                    [str(seeded.refresh_tokens["measured"]), threads_arg],
                    warm=False,
                ),
                clients,
            )
        # Hashing is the one CPU-bound part that runs off the event loop: from here on the
        # worker may use every core, so its hashing threads can (see the README).
        service.allow_cores(cores.all)
        hashing_threads = str(min(WRK_THREADS, HASHING_CLIENTS))
        if "register" in wants:
            log(f"[{backend}] register")
            nonce = secrets.token_hex(4)
            rows["register"] = row(
                wrk(["register"], service_url, HASHING_CLIENTS, [nonce, PASSWORD], False),
                HASHING_CLIENTS,
            )
        if "login" in wants:
            log(f"[{backend}] login")
            login_args = [str(seeded.users), PASSWORD, hashing_threads]
            rows["login"] = row(
                wrk(["login"], service_url, HASHING_CLIENTS, login_args, False),
                HASHING_CLIENTS,
            )
        if "storm" in wants:
            log(f"[{backend}] me from an open-loop client, idle and then during 16 logins")
            result["storm"] = storm(
                service, database, seeded.me_tokens, seeded.users, options, cores, workdir
            )
        result["rss_after_run_mib"] = round(service.rss_mib(), 1)
    except BaseException:
        sys.stderr.write(f"--- service log (tail) ---\n{service.log_tail()}\n")
        raise
    finally:
        service.stop()
        bare.stop()
    return result


def storm(
    service: Server,
    database: BenchDatabase,
    tokens: Path,
    users: int,
    options: Options,
    cores: Cores,
    workdir: Path,
) -> dict[str, Any]:
    """`/users/me` at a steady rate, first alone, then while 16 clients log in."""
    seconds = options.duration
    database.pin_backends(cores.load)
    idle = probe_result(start_probe(service.port, tokens, options.probe_rate, seconds, cores))
    logins: dict[str, WrkResult] = {}

    def login_storm() -> None:
        logins["result"] = run_wrk(
            ["login"],
            f"http://127.0.0.1:{service.port}",
            threads=WRK_THREADS,
            connections=HASHING_CLIENTS,
            seconds=seconds + 2,
            args=[str(users), PASSWORD, str(WRK_THREADS)],
            cores=cores,
            workdir=workdir,
        )

    thread = threading.Thread(target=login_storm, daemon=True)
    thread.start()
    try:
        time.sleep(1)  # the 16 logins are under way, every hashing thread busy
        database.pin_backends(cores.load)
        during = probe_result(start_probe(service.port, tokens, options.probe_rate, seconds, cores))
    finally:
        thread.join()
    return {
        "rate": options.probe_rate,
        "idle": idle,
        "during_logins": during,
        "logins": row(logins["result"], HASHING_CLIENTS),
    }


# -- the report -------------------------------------------------------------------------


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else math.nan


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = result["rows"]
    checks: list[dict[str, Any]] = []

    def check(name: str, measured: float | None, limit: float, at_least: bool) -> None:
        if measured is None:
            return
        met = measured >= limit if at_least else measured <= limit
        sign = "≥" if at_least else "≤"
        checks.append(
            {"target": name, "measured": round(measured, 3), "limit": f"{sign} {limit}", "met": met}
        )

    if "me" in rows:
        me_ratio = ratio(rows["me"]["rps"], rows["bare_get"]["rps"])
        check("me req/s ÷ bare GET req/s", me_ratio, TARGETS["me_ratio"], True)
    if "refresh" in rows:
        refresh_ratio = ratio(rows["refresh"]["rps"], rows["bare_post"]["rps"])
        check("refresh req/s ÷ bare POST req/s", refresh_ratio, TARGETS["refresh_ratio"], True)
    if "login" in rows:
        check("login req/s", rows["login"]["rps"], TARGETS["login_rps"], True)
        check("login errors", rows["login"]["errors"], 0, False)
    if "register" in rows:
        check("register errors (16 clients)", rows["register"]["errors"], 0, False)
    if "storm" in result:
        storm_result = result["storm"]
        idle_p99 = storm_result["idle"]["p99_ms"]
        during_p99 = storm_result["during_logins"]["p99_ms"]
        check("me p99 during logins ÷ idle p99", ratio(during_p99, idle_p99), 5.0, False)
        errors = storm_result["idle"]["errors"] + storm_result["during_logins"]["errors"]
        check("me errors (open-loop)", errors, 0, False)
    check("startup to first answer (s)", result.get("startup_s"), TARGETS["startup_s"], False)
    check("RSS after the run (MiB)", result.get("rss_after_run_mib"), TARGETS["rss_mib"], False)
    return checks


def format_number(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def cpu_per_request(item: dict[str, Any]) -> str:
    """CPU time the server spent per answer: unlike req/s, it does not drop when a
    neighbour borrows the core, so it compares runs on a busy machine."""
    if not item.get("server_cpu") or not item["rps"]:
        return "—"
    microseconds = item["server_cpu"] / item["rps"] * 1e6
    return f"{microseconds / 1000:.1f} ms" if microseconds >= 10_000 else f"{microseconds:.0f} us"


def table(result: dict[str, Any], description: str) -> str:
    rows = result["rows"]
    lines = [
        f"**{description}** — startup {result.get('startup_s', math.nan):.2f} s, "
        f"RSS {result.get('rss_after_run_mib', math.nan):.0f} MiB after the run",
        "",
        "| scenario | clients | req/s | x bare | p50 ms | x bare | p99 ms | x bare | errors "
        "| server CPU per request |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    labels = {
        "bare_get": ("bare GET (ceiling)", "bare_get"),
        "me": ("`GET /users/me`", "bare_get"),
        "bare_post": ("bare POST (ceiling)", "bare_post"),
        "refresh": ("`POST /auth/refresh`", "bare_post"),
        "register": ("`POST /auth/register`", "bare_post"),
        "login": ("`POST /auth/login`", "bare_post"),
    }
    for key, (label, reference_key) in labels.items():
        if key not in rows:
            continue
        item, reference = rows[key], rows[reference_key]
        lines.append(
            f"| {label} | {item['clients']} | {format_number(item['rps'])} "
            f"| {format_number(ratio(item['rps'], reference['rps']), 3)} "
            f"| {format_number(item['p50_ms'], 2)} "
            f"| {format_number(ratio(item['p50_ms'], reference['p50_ms']), 1)} "
            f"| {format_number(item['p99_ms'], 2)} "
            f"| {format_number(ratio(item['p99_ms'], reference['p99_ms']), 1)} "
            f"| {item['errors']} | {cpu_per_request(item)} |"
        )
    if "storm" in result:
        storm_result = result["storm"]
        idle, during = storm_result["idle"], storm_result["during_logins"]
        logins = storm_result["logins"]
        lines += [
            "",
            f"`GET /users/me` from an open-loop client at {storm_result['rate']:.0f} req/s "
            f"(latency from each request's scheduled time):",
            "",
            "| while | p50 ms | p99 ms | max ms | x idle p99 | errors |",
            "|---|--:|--:|--:|--:|--:|",
            f"| idle | {idle['p50_ms']:.2f} | {idle['p99_ms']:.2f} | {idle['max_ms']:.2f} "
            f"| 1.0 | {idle['errors']} |",
            f"| {HASHING_CLIENTS} clients log in ({logins['rps']:.1f} logins/s) "
            f"| {during['p50_ms']:.2f} | {during['p99_ms']:.2f} | {during['max_ms']:.2f} "
            f"| {ratio(during['p99_ms'], idle['p99_ms']):.1f} | {during['errors']} |",
        ]
    lines += ["", "| target | measured | required | met |", "|---|--:|--:|:-:|"]
    for item in result["targets"]:
        lines.append(
            f"| {item['target']} | {item['measured']:g} | {item['limit']} "
            f"| {'yes' if item['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def installed_versions(python: Path) -> dict[str, str]:
    """The versions the servers run with, read by their own interpreter."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "versions = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: versions[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(versions))"
    )
    found = subprocess.run(
        [str(python), "-c", script, *PACKAGES], capture_output=True, text=True, check=True
    )
    versions: dict[str, str] = json.loads(found.stdout)
    return versions


def machine(cores: Cores, postgres_version: str | None, python: Path) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = math.nan
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = int(line.split()[1]) / 1024 / 1024
    wrk_version = subprocess.run(
        [require_wrk(), "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" [")[0]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "wrk": wrk_version,
        "service_python": str(python),
        "packages": installed_versions(python),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "pinning": (
            f"server on CPU {cores.server}, wrk and the probe on CPU {cores.load}"
            if cores.server is not None
            else "none (taskset missing or a single core)"
        ),
    }


def update_readme(text: str) -> None:
    if not README.exists():
        return
    content = README.read_text()
    start, end = content.find(TABLE_START), content.find(TABLE_END)
    if start < 0 or end < start:
        return
    README.write_text(content[: start + len(TABLE_START)] + "\n" + text + "\n" + content[end:])


# -- the command ------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_options(argv: list[str] | None, workdir: Path) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: %(default)s"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=32, help="for me, refresh, bare")
    parser.add_argument("--users", type=int, default=10_000, help="verified users to seed")
    parser.add_argument("--probe-rate", type=float, default=100.0, help="open-loop me req/s")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an account that may create and drop databases",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the logs and seed files")
    parser.add_argument(
        "--profile", type=Path, help="run the service under py-spy, writing collapsed stacks here"
    )
    parser.add_argument(
        "--service-python",
        type=Path,
        default=Path(os.environ.get("BENCH_SERVICE_PYTHON", sys.executable)),
        help="the Python the servers run on (default: this one; `make bench` passes a "
        "virtualenv with the runtime dependencies only)",
    )
    args = parser.parse_args(argv)
    scenarios = tuple(name.strip() for name in args.scenarios.split(",") if name.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    options = Options(
        backends=backends,
        scenarios=scenarios,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        users=args.users,
        probe_rate=args.probe_rate,
        postgres_url=args.postgres_url,
        workdir=workdir,
        profile=args.profile,
        service_python=args.service_python.absolute(),
    )
    return options, args


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the servers and the database are cleaned up."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    require_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="fastapi-auth-bench-"))
    options, args = parse_options(argv, workdir)
    postgres_version = None
    if "postgresql" in options.backends:
        postgres_version = postgres_answers(options.postgres_url)
        if postgres_version is None:
            raise SystemExit(
                f"PostgreSQL does not answer at {options.postgres_url}: start it, point "
                "BENCH_POSTGRES_URL at one, or run `make bench BENCH_ARGS='--backend sqlite'`."
            )
    cores = Cores.detect()
    started = datetime.datetime.now(datetime.UTC)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(cores, postgres_version, options.service_python),
        "options": {
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "connections": options.connections,
            "hashing_clients": HASHING_CLIENTS,
            "users": options.users,
            "probe_rate": options.probe_rate,
            "scenarios": list(options.scenarios),
        },
        "backends": {},
    }
    sections = []
    try:
        with stop_on_sigterm():
            for backend in options.backends:
                result = run_backend(backend, options, cores)
                result["targets"] = targets(result)
                report["backends"][backend] = result
                description = (
                    f"SQLite {sqlite3.sqlite_version}"
                    if backend == "sqlite"
                    else f"PostgreSQL {postgres_version}"
                )
                section = table(result, description)
                sections.append(section)
                print(f"\n{section}\n", flush=True)
    finally:
        if args.keep:
            log(f"logs and seed files kept in {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    info = report["machine"]
    header = (
        f"Run {report['started']} on {info['cpu']} ({info['cores']} cores, "
        f"{info['memory_gib']} GiB), Python {info['python']}, {info['wrk']}; "
        f"{info['pinning']}; {options.duration:g} s per figure."
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(header)
    log(f"results written to {path.relative_to(REPO_DIR)}")
    full_run = options.backends == BACKENDS and set(options.scenarios) == set(SCENARIOS)
    if full_run and not args.no_readme:
        update_readme("\n".join([header, "", *("\n\n".join(sections).splitlines())]))
        log("table copied into benchmarks/README.md")
    missed = [
        f"{backend}: {item['target']}"
        for backend, result in report["backends"].items()
        for item in result["targets"]
        if not item["met"]
    ]
    if missed:
        log("targets missed: " + "; ".join(missed))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
