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
def valid_cases() -> list:
    """Every case of the corpus (tests/cases) that expects a result, not an error."""
    from pathlib import Path

    from cptkb.reasoner.cases import load_cases

    cases = []
    for path in sorted((Path(__file__).parent / "cases").glob("*.json")):
        cases += [c for c in load_cases(path) if "error" not in c.expect]
    return cases
