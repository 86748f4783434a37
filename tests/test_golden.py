"""Golden justifications: the short and long text of the first two cases of every case file.

Each case's source is named in its case file (tests/cases). When a change to the rules or the templates
changes a justification on purpose, regenerate the files and review the difference before committing:

    CPTKB_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
    git diff tests/golden
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cptkb.explain.summary import render_summary
from cptkb.explain.text import render_text
from cptkb.reasoner.cases import load_cases
from cptkb.reasoner.engine import Engine

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("CPTKB_UPDATE_GOLDEN") == "1"


def _cases() -> list[tuple[str, object]]:
    out = []
    for path in sorted((HERE / "cases").glob("*.json")):
        valid = [c for c in load_cases(path) if "error" not in c.expect]
        out += [(f"{path.stem}-{i + 1}", c) for i, c in enumerate(valid[:2])]
    return out


CASES = _cases()


@pytest.mark.parametrize("name,case", CASES, ids=[n for n, _ in CASES])
@pytest.mark.parametrize("level", ["short", "long"])
def test_golden_justification(engine: Engine, name: str, case, level: str) -> None:
    result = engine.evaluate(case.encounter, case.switches, trace=True)
    text = render_summary(result, engine.vocab) if level == "short" else render_text(result, engine.vocab)
    path = GOLDEN / f"{name}.{level}.txt"
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"no golden file {path.name}: run CPTKB_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    assert text == path.read_text(), f"{path.name} differs ({case.name})"


def test_no_stale_golden_files() -> None:
    expected = {f"{n}.{level}.txt" for n, _ in CASES for level in ("short", "long")}
    assert sorted(p.name for p in GOLDEN.glob("*.txt") if p.name not in expected) == []
