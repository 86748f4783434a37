"""A pytest plugin that collects encounter case files as test items.

Name the folders of case files in the pytest configuration::

    [tool.pytest.ini_options]
    cptkb_cases = ["tests/cases"]

Every ``*.json`` file directly in such a folder is read as a case file
(:mod:`cptkb.reasoner.cases`); each case becomes a test item named by its
sentence. A failing item prints the case name, its source and the
differences, not a traceback. Without the option the plugin collects nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

from .cases import Case, load_cases, run_case
from .engine import default_engine


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("cptkb_cases", "folders of cptkb encounter case files (*.json)", type="paths", default=[])


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
    folders = [Path(p).resolve() for p in parent.config.getini("cptkb_cases")]
    if file_path.suffix == ".json" and file_path.parent.resolve() in folders:
        return CaseFile.from_parent(parent, path=file_path)
    return None
