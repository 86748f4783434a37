"""Shared fixtures. The case files in tests/cases are collected by the cptkb pytest plugin
(cptkb.reasoner.pytest_plugin, configured by cptkb_cases in pyproject.toml)."""

from __future__ import annotations

import pytest

from cptkb.reasoner.engine import Engine, default_engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()
