"""What `pyproject.toml` promises of FastAPI (`fastapi>=...`) the code keeps: the floor
is a version whose features it uses, and no dependency needs a newer FastAPI than that
to be read right."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from packaging.requirements import Requirement
from packaging.version import Version

from fastapi_auth import create_app
from fastapi_auth.kernel.principal import current_principal
from fastapi_auth.kernel.settings import Settings

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
DEPENDENCY_SCOPES = Version("0.121")
"""`Depends(..., scope="function")` (`kernel/components.py` `SessionDep`): the request's
transaction commits before the answer is sent."""


def fastapi_floor() -> Version:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    for line in project["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "fastapi" and not requirement.marker:
            floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
            assert floors, line
            return max(floors)
    raise AssertionError("no fastapi requirement")


def test_the_fastapi_floor_has_dependency_scopes() -> None:
    assert fastapi_floor() >= DEPENDENCY_SCOPES


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependencies(dependency)


def test_every_dependency_reads_its_parameters_without_evaluating_strings() -> None:
    """FastAPI before 0.123.7 resolves a dependency's string annotations with the
    callable's `__globals__`, which an instance (`BearerSession`) lacks: its
    `request: "HTTPConnection"` became a required query parameter, and every route behind
    `CurrentUser` answered 422. A callable instance's annotations must be real types."""
    app = create_app(Settings(_env_file=None, environment="test", jwt_secret="x" * 48))
    calls = {
        call
        for route in app.routes
        if isinstance(route, APIRoute)
        for call in _dependencies(route.dependant)
    }
    calls.add(current_principal)
    instances = [call for call in calls if not inspect.isfunction(call)]
    assert instances, "the bearer scheme is an instance"
    for call in instances:
        for parameter in inspect.signature(call).parameters.values():
            assert not isinstance(parameter.annotation, str), (call, parameter)
