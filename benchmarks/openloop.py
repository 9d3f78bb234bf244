"""An open-loop probe: `GET /users/me` at a fixed rate, whatever the server's pace.

wrk is closed-loop (each connection waits for its answer before asking again),
so a stalled server also slows the client and hides the stall. This probe sends
request i at start + i/rate regardless, and measures each latency from that
scheduled moment, so time spent queued behind a busy event loop counts. (wrk2's
fixed-rate mode would do the same, but Debian does not package it.)

    python -m benchmarks.openloop --port 8000 --tokens me-tokens.txt --rate 100 --duration 10

Prints one JSON object: sent, answered, errors, p50_ms, p99_ms, max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

HEADER_END = b"\r\n\r\n"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> int:
        """Sends one keep-alive request and reads the whole answer; returns its status."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(HEADER_END)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def probe(
    host: str, port: int, tokens: list[str], rate: float, duration: float, connections: int
) -> Tally:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    tally = Tally()

    async def one(scheduled: float, token: str) -> None:
        request = (
            f"GET /users/me HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        connection = await idle.get()
        try:
            status = await connection.get(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            tally.errors += 1
            return
        finally:
            idle.put_nowait(connection)
        if status == 200:
            tally.latencies.append(loop.time() - scheduled)
        else:
            tally.errors += 1

    start = loop.time() + 0.05
    pending: list[asyncio.Task[None]] = []
    for index in range(int(rate * duration)):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(scheduled, tokens[index % len(tokens)])))
    await asyncio.gather(*pending)
    while not idle.empty():
        idle.get_nowait().close()
    return tally


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    tokens = args.tokens.read_text().split()
    tally = asyncio.run(
        probe(args.host, args.port, tokens, args.rate, args.duration, args.connections)
    )
    milliseconds = [value * 1000 for value in tally.latencies]
    print(
        json.dumps(
            {
                "sent": int(args.rate * args.duration),
                "answered": len(milliseconds),
                "errors": tally.errors,
                "p50_ms": percentile(milliseconds, 0.50),
                "p99_ms": percentile(milliseconds, 0.99),
                "max_ms": max(milliseconds, default=float("nan")),
                "mean_ms": statistics.fmean(milliseconds) if milliseconds else float("nan"),
            }
        )
    )


if __name__ == "__main__":
    main()
