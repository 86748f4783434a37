"""Collects every encounter case in tests/cases/*.json as a test item.

On failure the item prints the case name, its source and the differences,
not a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

from cptkb.reasoner.cases import Case, load_cases, run_case
from cptkb.reasoner.engine import Engine, default_engine

CASES_DIR = Path(__file__).parent / "cases"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()


class CaseFailed(Exception):
    pass


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        problems = run_case(default_engine(), self.case)
        if problems:
            raise CaseFailed(problems)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            lines = [f"case: {self.case.name}", f"source: {self.case.source}"]
            lines += [f"  - {p}" for p in excinfo.value.args[0]]
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.index, f"case: {self.case.name}"


class CaseFile(pytest.File):
    def collect(self) -> Iterator[CaseItem]:
        for case in load_cases(self.path):
            yield CaseItem.from_parent(self, name=case.name, case=case)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> CaseFile | None:
    if file_path.suffix == ".json" and file_path.parent == CASES_DIR:
        return CaseFile.from_parent(parent, path=file_path)
    return None
