"""A small notes API of its own that mounts fastapi-auth: what the README's "Embedding"
section builds, and what tests/examples prove untouched by the package.

Its own routes (notes of the signed-in user, uploads, an HTML page), its own static
files under `/static`, its own errors and its own tables, migrated by its own Alembic
(`examples/notes/migrations`) on the same database as the package's.

    uvicorn --factory examples.notes.app:create_notes_app
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from examples.notes.tables import notes
from fastapi_auth import CurrentUser, Hooks, Settings, mount

HERE = Path(__file__).parent
MAX_UPLOAD_BYTES = 1_000_000
HOME_PAGE = """<!doctype html>
<html><head><title>Notes</title><script src="/static/notes.js"></script></head>
<body><h1>Notes</h1><img src="https://cdn.example.com/logo.png" alt="logo">
<script>document.body.dataset.ready = "yes";</script></body></html>"""


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class Note(BaseModel):
    id: int
    text: str


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.notes_engine
    return engine


def create_notes_app(settings: Settings | None = None, hooks: Hooks | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.notes_engine = create_async_engine(settings.database_url)
        app.state.started = True
        yield
        await app.state.notes_engine.dispose()

    app = FastAPI(title="Notes", lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return HOME_PAGE

    @app.get("/notes")
    async def my_notes(user: CurrentUser, request: Request) -> list[Note]:
        async with engine_of(request).connect() as connection:
            rows = await connection.execute(
                select(notes.c.id, notes.c.text).where(notes.c.owner_id == str(user.id))
            )
        return [Note(id=row.id, text=row.text) for row in rows]

    @app.post("/notes", status_code=201)
    async def add_note(body: NoteIn, user: CurrentUser, request: Request) -> Note:
        async with engine_of(request).begin() as connection:
            created = await connection.execute(
                insert(notes).values(owner_id=str(user.id), text=body.text).returning(notes.c.id)
            )
        return Note(id=created.scalar_one(), text=body.text)

    @app.get("/notes/{note_id}")
    async def one_note(note_id: int, user: CurrentUser, request: Request) -> Note:
        async with engine_of(request).connect() as connection:
            row = (
                await connection.execute(
                    select(notes.c.id, notes.c.text).where(
                        notes.c.id == note_id, notes.c.owner_id == str(user.id)
                    )
                )
            ).first()
        if row is None:
            raise HTTPException(status_code=404, detail="No such note")
        return Note(id=row.id, text=row.text)

    @app.post("/uploads")
    async def upload(file: Annotated[UploadFile, File()]) -> dict[str, int]:
        size = len(await file.read(MAX_UPLOAD_BYTES + 1))
        if size > MAX_UPLOAD_BYTES:
            raise HTTPException(status_code=413, detail="Too big for a note")
        return {"size": size}

    @app.get("/report")
    async def report(request: Request) -> dict[str, int]:
        """A bug of the host's own: the table it reads was never created."""
        async with engine_of(request).connect() as connection:
            count = await connection.scalar(text("SELECT count(*) FROM no_such_table"))
        return {"count": int(count or 0)}

    mount(app, settings, hooks=hooks)
    return app
