"""Exceptions of cptkb: bad input is kept apart from faults of the knowledge base."""

from __future__ import annotations

import json
from typing import Any


def show_value(value: Any) -> str:
    """A bad value as the caller wrote it, JSON-quoted and cut to a readable length."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class CptkbError(Exception):
    """Base class of every error cptkb raises on purpose."""


class InvalidEncounter(CptkbError, ValueError):
    """The encounter does not meet the contract.

    ``field`` is the dotted path of the bad field (``needle_emg[2].muscle``),
    ``value`` the bad value itself, ``expected`` what the field accepts.
    """

    def __init__(self, field: str, value: Any, expected: str, problem: str = "invalid value") -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.problem = problem
        super().__init__(f"{field}: {problem} {show_value(value)}; expected {expected}")


class MissingField(InvalidEncounter):
    """A required field is absent."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(field, None, expected, problem="missing required field")
        self.args = (f"{field}: missing required field; expected {expected}",)

    def __str__(self) -> str:
        return str(self.args[0])


class KnowledgeBaseFault(CptkbError, RuntimeError):
    """The knowledge base reached a conclusion it must never reach (a defect of kb/)."""
