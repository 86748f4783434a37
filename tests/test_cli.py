"""The cptkb command: exit codes, standard output and standard error.

Source: cptkb encounter contract v1, section "Command line".
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cptkb.reasoner.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "encounter.json"


def run(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    out = io.StringIO()
    err = io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = main(args, stdin=io.StringIO(stdin), stdout=out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_evaluate_example_json() -> None:
    """The contract's example encounter gives its code set (rules: research note C-1, C-15, C-19, C-20, C-21)."""
    code, out, err = run(["evaluate", str(EXAMPLE)])
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["id"] == "enc-001" and data["date_of_service"] == "2025-03-14" and data["kb_version"] == "2026.1"
    assert [(c["code"], c["units"], c["modifiers"]) for c in data["codes"]] == [
        ("95872", 1, []),
        ("95908", 1, []),
        ("95937", 1, []),
        ("95885", 1, []),
        ("95887", 1, []),
    ]
    assert [r["status"] for r in data["claim_review"]] == ["rejected"]
    assert data["claim_review"][0]["rules"] == ["claim.addon_without_primary"]
    assert "explanation" not in data


def test_output_is_byte_identical_across_runs() -> None:
    """Deterministic: the same input gives byte-identical output, in separate processes too."""
    outs = [
        subprocess.run([sys.executable, "-m", "cptkb", "evaluate", str(EXAMPLE)], capture_output=True, check=True).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert run(["evaluate", str(EXAMPLE)])[1].encode() == outs[0]


def test_stdin() -> None:
    """`-` reads the encounter from standard input."""
    code, out, _ = run(["evaluate", "-"], EXAMPLE.read_text())
    assert code == 0 and json.loads(out)["id"] == "enc-001"


def test_text_format_names_rules_sources_and_values() -> None:
    """--format text justifies every code with rule ids, sources, evidence and the concrete facts."""
    code, out, _ = run(["evaluate", str(EXAMPLE), "--format", "text"])
    assert code == 0
    assert out.startswith("Encounter enc-001, date of service 2025-03-14, knowledge base 2026.1\n")
    for text in (
        "Why 95908 x1",
        "ncs.code.ladder",
        "ncs_study_count(3)",
        "enc_ncs(2,tibial,right,h_reflex,\"\")",
        "Why 95885 x1",
        "emg.code.limited_limb_with_ncs",
        "because there is no: limb_complete(left_upper)",
        "verified against the cited primary text",
        "line 1: 95886 x1 -26: rejected",
    ):
        assert text in out, text


def test_explain_adds_the_trace_graph() -> None:
    """--explain adds explanation: a node-link graph whose code nodes are reached from encounter facts."""
    code, out, _ = run(["evaluate", str(EXAMPLE), "--explain"])
    assert code == 0
    graph = json.loads(out)["explanation"]
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"fact", "rule", "conclusion", "code", "finding", "absence", "data"} <= kinds
    rules = [n for n in graph["nodes"] if n["kind"] == "rule"]
    assert all(n["rule"] and n["document"] and n["evidence"] for n in rules)


@pytest.mark.parametrize(
    "stdin,field",
    [
        ("{bad", "encounter"),
        ('{"id": "x"}', "date_of_service"),
        ('{"id": "x", "date_of_service": "2024-05-01", "needle_emg": [{"muscle": "x). bad :- y(", "side": "left"}]}', "needle_emg[0].muscle"),
        ('{"id": "x", "date_of_service": "2030-01-01"}', "date_of_service"),
    ],
)
def test_invalid_input_exits_2_with_nothing_on_stdout(stdin: str, field: str) -> None:
    """Invalid input: exit 2, nothing on standard output, one line on standard error naming the field."""
    code, out, err = run(["evaluate", "-"], stdin)
    assert code == 2
    assert out == ""
    assert err.startswith(f"cptkb: invalid encounter: {field}: ")
    assert err.count("\n") == 1


def test_missing_file_exits_2() -> None:
    code, out, err = run(["evaluate", "/nonexistent/encounter.json"])
    assert code == 2 and out == "" and "FILE" in err and "/nonexistent/encounter.json" in err


def test_switch() -> None:
    """--switch turns a policy switch on; an unknown one is refused with exit 2."""
    enc = {
        "id": "sw",
        "date_of_service": "2024-05-01",
        "needle_emg": [{"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC", "biceps")]
        + [{"muscle": "cervical paraspinal", "side": "left", "level": "C6"}],
    }
    text = json.dumps(enc)
    assert [c["code"] for c in json.loads(run(["evaluate", "-"], text)[1])["codes"]] == ["95870"]
    on = run(["evaluate", "-", "--switch", "paraspinals_count_toward_five=on"], text)
    assert [c["code"] for c in json.loads(on[1])["codes"]] == ["95860"]
    bad = run(["evaluate", "-", "--switch", "nope=on"], text)
    assert bad[0] == 2 and bad[1] == "" and "paraspinals_count_toward_five" in bad[2]


def test_batch_keeps_every_line() -> None:
    """evaluate-batch: one result per line, in order; a bad line becomes an error object in its place."""
    good = json.dumps({"id": "a", "date_of_service": "2024-05-01", "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor"}]})
    bad = json.dumps({"id": "b", "date_of_service": "2024-13-01"})
    lines = "\n".join([good, bad, "{not json", good.replace('"a"', '"c"')]) + "\n"
    code, out, err = run(["evaluate-batch", "-"], lines)
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("id") for r in records] == ["a", "b", None, "c"]
    assert records[0]["codes"] == [{"code": "95907", "units": 1, "modifiers": []}]
    assert records[1]["error"]["field"] == "date_of_service"
    assert records[2]["error"]["field"] == "line 3"
    assert records[3]["codes"] == records[0]["codes"]


def test_usage_error_exits_2() -> None:
    code, out, err = run(["evaluate"])
    assert code == 2 and out == "" and "usage" in err


def test_policy_profiles() -> None:
    """--policy NAME sets the switches of a named profile; --switch overrides it; an unknown name exits 2
    (research note C-17: branch counting disputed by some payers)."""
    studies = [{"nerve": "ulnar", "side": "left", "study": "motor", "branch": b} for b in ("ADM", "FDI")]
    studies += [{"nerve": n, "side": "left", "study": t} for n, t in (("median", "motor"), ("median", "sensory"), ("radial", "sensory"))]
    text = json.dumps({"id": "p", "date_of_service": "2024-05-01", "nerve_conduction": studies})
    codes = lambda out: [c["code"] for c in json.loads(out)["codes"]]  # noqa: E731
    assert codes(run(["evaluate", "-"], text)[1]) == ["95909"]
    assert codes(run(["evaluate", "-", "--policy", "cpt"], text)[1]) == ["95909"]
    assert codes(run(["evaluate", "-", "--policy", "branches-merged"], text)[1]) == ["95908"]
    assert codes(run(["evaluate", "-", "--policy", "payer-strict", "--switch", "branches_as_one_study=off"], text)[1]) == ["95909"]
    code, out, err = run(["evaluate", "-", "--policy", "lenient"], text)
    assert code == 2 and out == ""
    assert err == ('cptkb: invalid encounter: --policy: unknown policy profile "lenient"; expected one of'
                   ' "branches-merged", "cpt", "paraspinals-counted", "payer-strict"\n')
