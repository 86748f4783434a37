"""Shared fixtures. The case files in tests/cases are collected by the cptkb pytest plugin
(cptkb.reasoner.pytest_plugin, configured by cptkb_cases in pyproject.toml)."""

from __future__ import annotations

import os
import tempfile

import pytest

# The tests run without the user's imported CMS tables: an empty data directory,
# so that every NCCI check is no_data unless a test imports its own fixtures.
os.environ["CPTKB_DATA_DIR"] = tempfile.mkdtemp(prefix="cptkb-test-data-")

from cptkb.reasoner.engine import Engine, default_engine  # noqa: E402


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()


@pytest.fixture(scope="session")
def grounding_engine() -> Engine:
    """An engine that grounds every evaluation with clingo, an encounter alone too (no bottom-up
    evaluation by the reasoner, reasoner/bottomup.py): the tests compare the two ways."""
    return Engine(bottom_up=False)


@pytest.fixture(scope="session", params=["bottom-up", "grounded"])
def alone_engine(request: pytest.FixtureRequest, engine: Engine, grounding_engine: Engine) -> Engine:
    """Each way of evaluating an encounter alone in turn: the reasoner's bottom-up evaluation (the
    default engine) and clingo's grounding."""
    return engine if request.param == "bottom-up" else grounding_engine


@pytest.fixture(scope="session")
def valid_cases() -> list:
    """Every case of the corpus (tests/cases) that expects a result, not an error."""
    from pathlib import Path

    from cptkb.reasoner.cases import load_cases

    cases = []
    for path in sorted((Path(__file__).parent / "cases").glob("*.json")):
        cases += [c for c in load_cases(path) if "error" not in c.expect]
    return cases
