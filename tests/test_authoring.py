"""Tools for policy authors: cptkb test, cptkb coverage, and the pytest plugin for case files.

Source: the case-file format of cptkb.reasoner.cases; docs/knowledge-base.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli import run

CASES = Path(__file__).parent / "cases"

ARM = [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps", "deltoid")]


def write_cases(path: Path, cases: list[dict]) -> Path:
    path.write_text(json.dumps({"cases": cases}))
    return path


def case(name: str, expect: dict, **extra) -> dict:
    return {
        "name": name,
        "source": "CMS CY1998 MPFS final rule, 62 FR 59090 (research note C-6)",
        "evidence": "verified",
        "encounter": {"id": name, "date_of_service": "2024-05-01", "needle_emg": ARM},
        "expect": expect,
        **extra,
    }


def test_test_command_passes_the_corpus() -> None:
    """cptkb test over the project's corpus: every case passes; the closing line counts them."""
    code, out, err = run(["test", str(CASES), "--quiet"])
    assert code == 0 and err == ""
    total = sum(len(json.loads(p.read_text())["cases"]) for p in CASES.glob("*.json"))
    assert out.splitlines()[-1] == f"{total} passed, 0 failed"


def test_test_command_reports_a_failing_case(tmp_path: Path) -> None:
    """A wrong expectation fails with the case name and a readable difference; exit 1."""
    f = write_cases(
        tmp_path / "c.json",
        [
            case("right arm complete", {"codes": [{"code": "95860", "units": 1, "modifiers": []}]}),
            case("wrongly expected two limbs", {"codes": [{"code": "95861", "units": 1, "modifiers": []}]}),
        ],
    )
    code, out, _ = run(["test", str(f)])
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "PASS c.json: right arm complete"
    assert lines[1] == "FAIL c.json: wrongly expected two limbs"
    assert lines[2].strip() == "codes: expected ['95861 x1'], got ['95860 x1']"
    assert lines[-1] == "1 passed, 1 failed"


def test_explanation_assertions(tmp_path: Path) -> None:
    """A case may assert rule ids present in the explanation and rule ids absent from it."""
    good = case(
        "complete by nerves, not by roots alone",
        {"explains": ["emg.limb.complete_nerves", "emg.code.limbs"], "not_explains": ["emg.code.complete_limb_with_ncs"]},
    )
    bad = case("claims a rule that does not fire", {"explains": ["emg.code.larynx"], "not_explains": ["emg.code.limbs"]})
    code, out, _ = run(["test", str(write_cases(tmp_path / "e.json", [good, bad]))])
    assert code == 1
    assert "PASS e.json: complete by nerves, not by roots alone" in out
    assert "rule emg.code.larynx does not appear in the explanation" in out
    assert "rule emg.code.limbs appears in the explanation but must not" in out


def test_test_command_refuses_what_is_not_a_case_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"not": "cases"}')
    code, out, err = run(["test", str(bad)])
    assert code == 2 and out == "" and "not a case file" in err and str(bad) in err
    code, out, err = run(["test", str(tmp_path / "missing.json")])
    assert code == 2 and "no such file" in err


def test_coverage_of_the_corpus() -> None:
    """The project's corpus fires every rule of the knowledge base but those that need an imported CMS
    edition or a contractor's row (exempt with their reason; tests/test_ncci.py and tests/test_layers.py
    fire them), and exercises both date periods."""
    code, out, _ = run(["coverage", str(CASES), "--format", "json"])
    assert code == 0
    report = json.loads(out)
    assert report["never_fired"] == []
    assert report["rules"]["fired"] + len(report["exempt"]) == report["rules"]["total"] >= 100
    assert sorted(report["exempt"]) == sorted(r for r, n in report["rules"]["counts"].items() if n == 0)
    assert all(r.startswith("ncci.") for r in report["exempt"] if r != "provider.npp_contractor")
    assert all(why.startswith("needs an imported CMS edition") for r, why in report["exempt"].items() if r.startswith("ncci."))
    assert report["exempt"]["provider.npp_contractor"].startswith("needs a contractor's rule")
    assert report["citations"]["not_exercised"] == []
    assert [(p["from"], p["to"]) for p in report["periods"]] == [("2012-01-01", "2012-12-31"), ("2013-01-01", "2026-12-31")]
    assert all(p["cases"] > 0 for p in report["periods"])


def test_coverage_lists_what_a_small_corpus_misses(tmp_path: Path) -> None:
    """One limb case fires the limb rules only: the NCS ladder and the 2012 period are reported as gaps."""
    f = write_cases(tmp_path / "one.json", [case("one arm", {"codes": [{"code": "95860", "units": 1, "modifiers": []}]})])
    code, out, _ = run(["coverage", str(f)])
    assert code == 0
    assert "cases run: 1" in out
    assert "  never fired: ncs.code.ladder" in out
    assert "  2012-01-01 to 2012-12-31: 0 cases" in out


pytest_plugins = ["pytester"]


def test_plugin_collects_case_files(pytester: pytest.Pytester) -> None:
    """The pytest plugin collects the case files of the folders named in cptkb_cases, one item per case."""
    folder = pytester.mkdir("cases")
    write_cases(
        folder / "a.json",
        [
            case("arm complete", {"codes": [{"code": "95860", "units": 1, "modifiers": []}]}),
            case("arm wrongly limited", {"codes": [{"code": "95870", "units": 1, "modifiers": []}]}),
        ],
    )
    pytester.makeini("[pytest]\ncptkb_cases = cases\n")
    result = pytester.runpytest("-q")  # the plugin is registered by the cptkb entry point
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*case: arm wrongly limited*", "*codes: expected *95870 x1*, got *95860 x1*"])
