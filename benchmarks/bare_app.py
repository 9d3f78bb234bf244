"""The ceiling: a FastAPI app with one GET and one POST endpoint and nothing else.

It runs under the same uvicorn settings as the service (one worker, uvloop,
httptools, no access log), so a ratio to it measures what the service adds:
middleware, dependencies, token checks, the database and serialisation.

    python -m benchmarks.bare_app --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="bare")


class Status(BaseModel):
    status: str


class Token(BaseModel):
    refresh_token: str


class Received(BaseModel):
    length: int


@app.get("/bare")
async def bare_get() -> Status:
    return Status(status="ok")


@app.post("/bare")
async def bare_post(body: Token) -> Received:
    return Received(length=len(body.refresh_token))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
