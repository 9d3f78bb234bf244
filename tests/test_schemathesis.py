"""Schemathesis fuzzes the service through its own OpenAPI schema: no answer is a 5xx, and
every answer (status, headers, body) is one the schema documents.

The service runs under uvicorn in a thread, on its own SQLite database, so the
fuzzer talks real HTTP to it. The run is bounded (few examples per operation)
so it stays in the suite; raise FUZZ_EXAMPLES for a deeper run.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis import BaseSchema, Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from fastapi_auth import Settings, create_app
from tests.conftest import JWT_SECRET
from tests.mailbox import LINK, free_port
from tests.services import migrate
from tests.support import PASSWORD, unique_email

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SESSION_ENDING = {("POST", "/users/logout-all"), ("DELETE", "/users/me")}


@dataclass
class LiveService:
    base_url: str
    database: Path
    email: str = ""
    access_token: str = ""
    refresh_token: str = ""

    def sign_in(self) -> None:
        """A verified account (its link read from the outbox: mail is off) and a fresh
        pair of tokens."""
        if not self.email:
            self.email = unique_email("fuzz")
            registered = httpx.post(
                f"{self.base_url}/auth/register", json={"email": self.email, "password": PASSWORD}
            )
            assert registered.status_code == 202, registered.text
            with sqlite3.connect(self.database) as connection:
                [(text,)] = connection.execute(
                    "SELECT text_body FROM outbox_emails WHERE recipient = ?", (self.email,)
                ).fetchall()
            link = LINK.search(text)
            assert link is not None, text
            verified = httpx.post(
                f"{self.base_url}/auth/verify-email",
                json={"token": link.group(0).split("token=", 1)[1]},
            )
            assert verified.status_code == 200, verified.text
        response = httpx.post(
            f"{self.base_url}/auth/login", json={"email": self.email, "password": PASSWORD}
        )
        if response.status_code == 401:
            self.email = ""
            self.sign_in()
            return
        assert response.status_code == 200, response.text
        self.access_token = response.json()["access_token"]
        self.refresh_token = response.json()["refresh_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    database = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite+aiosqlite:///{database}"
    migrate(url)
    app = create_app(
        Settings(
            _env_file=None,
            environment="test",
            db_url=url,
            jwt_secret=JWT_SECRET,
            email_dispatcher_enabled=False,
            rate_limit_enabled=False,
            argon2_memory_kib=8_192,
            argon2_time_cost=1,
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    service = LiveService(base_url=f"http://127.0.0.1:{port}", database=database)
    service.sign_in()
    yield service
    server.should_exit = True
    thread.join(timeout=10)


def documented_schema() -> BaseSchema:
    """The schema as the app publishes it, read at collection so each operation is a test."""
    app = create_app(Settings(_env_file=None, environment="test", jwt_secret=JWT_SECRET))
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.config.generation.update(max_examples=FUZZ_EXAMPLES, deterministic=True)
    return schema


schema = documented_schema()


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_matches_its_schema_and_never_fails(
    case: Case[Any], live_service: LiveService
) -> None:
    case.call_and_validate(
        base_url=live_service.base_url,
        headers=live_service.headers,
        excluded_checks=[positive_data_acceptance],
    )
    if (case.method.upper(), case.path) in SESSION_ENDING:
        live_service.sign_in()


def test_linked_calls_keep_their_promises(live_service: LiveService) -> None:
    """Stateful: login and refresh hand their refresh token on to refresh and logout (the
    schema's links), the sessions list to session deletion, each page to the next."""
    workflow = schema.as_state_machine()
    credentials = {"email": live_service.email, "password": PASSWORD}
    answered: Counter[tuple[str, str, int]] = Counter()

    class Workflow(workflow):  # type: ignore[misc, valid-type]
        def before_call(self, case: Case[Any]) -> None:
            if (case.method.upper(), case.path) == ("POST", "/auth/login"):
                case.body = dict(credentials)
                case.media_type = "application/json"

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"base_url": live_service.base_url, "headers": live_service.headers}

        def after_call(self, response: Any, case: Case[Any]) -> None:
            answered[(case.method.upper(), case.path, response.status_code)] += 1
            ends_ours = (case.method.upper(), case.path) in SESSION_ENDING or (
                case.method.upper() == "DELETE" and case.path.startswith("/users/me/sessions")
            )
            if ends_ours and response.status_code < 300:
                live_service.sign_in()

        def validate_response(self, response: Any, case: Case[Any], **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

    Workflow.run(
        settings=settings(
            max_examples=FUZZ_EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
    # The links carried real tokens: a refresh or a logout fed by a login succeeded.
    linked = answered[("POST", "/auth/refresh", 200)] + answered[("POST", "/users/logout", 204)]
    assert linked > 0, answered
