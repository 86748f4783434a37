"""NCCI edits: CMS files read in their published layouts, editions by date, PTP, MUE and AOC checks.

Sources: CMS NCCI practitioner PTP, MUE and add-on code edit tables (layouts and indicator meanings,
research note 3a); research note C-5 (95885/95886 one per limb). The files in tests/fixtures/cms are
synthetic, in the CMS layouts; they are not CMS data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cptkb.reasoner.cmsdata import DataStore, parse_aoc, parse_mue, parse_ptp
from cptkb.reasoner.engine import Engine
from test_cli import run

FIX = Path(__file__).resolve().parent / "fixtures" / "cms"
RIGHT_ARM = [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps brachii", "deltoid")]
LEFT_ARM = [{"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC")]
LEFT_LEG = [{"muscle": m, "side": "left"} for m in ("tibialis anterior", "medial gastrocnemius")]
NCS_3 = [{"nerve": "median", "side": "right", "study": "motor"}, {"nerve": "ulnar", "side": "right", "study": "motor"},
         {"nerve": "median", "side": "right", "study": "sensory"}]
RNS = [{"test": "repetitive_stimulation", "nerve": "ulnar", "side": "left"}]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Two PTP editions (2025-10-01 in two parts, 2026-01-01), one MUE and one AOC edition, imported with the CLI."""
    d = tmp_path_factory.mktemp("ncci")
    steps = [
        ["data", "import", str(FIX / "ccipra-v313r0-f1.txt"), str(FIX / "ccipra-v313r0-f2.txt"), "--effective", "2025-10-01", "--edition", "ptp-2025Q4"],
        ["data", "import", str(FIX / "ccipra-v320r0-f1.txt"), "--effective", "2026-01-01", "--edition", "ptp-2026Q1"],
        ["data", "import", str(FIX / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv")],
        ["data", "import", str(FIX / "AOC_V2025Q4-MCR.txt")],
    ]
    for args in steps:
        code, out, err = run([*args, "--data-dir", str(d)])
        assert code == 0, err
    return d


@pytest.fixture(scope="module")
def ncci(data_dir: Path) -> Engine:
    return Engine(data_dir=data_dir)


def evaluate(engine: Engine, date: str, emg=(), ncs=(), other=(), claim=None) -> dict:
    enc = {"id": "n", "date_of_service": date, "needle_emg": list(emg), "nerve_conduction": list(ncs), "other_tests": list(other)}
    if claim is not None:
        enc["claim"] = claim
    return engine.evaluate(enc).to_dict()


def checks(d: dict) -> list[tuple]:
    return [(c["table"], c["status"], tuple(c["codes"]), c["edition"]) for c in d["checks"]]


def ncci_findings(d: dict) -> list[tuple[str, str]]:
    return [(f["severity"], f["rule"]) for f in d["findings"] if f["rule"].startswith("ncci.")]


# --- reading the CMS layouts -----------------------------------------------------------------------


def test_ptp_layout_skips_title_lines_and_reports_bad_rows() -> None:
    p1 = parse_ptp((FIX / "ccipra-v313r0-f1.txt").read_text())
    assert p1.rows[0] == ("95886", "95885", 20130101, 99991231, 1, "CPT Manual or CMS manual coding instruction")
    assert p1.rows[1][:5] == ("95907", "95937", 20130101, 20251115, 1) and p1.skipped == []
    p2 = parse_ptp((FIX / "ccipra-v313r0-f2.txt").read_text())
    assert [r[:5] for r in p2.rows] == [("95861", "95860", 20120101, 99991231, 0), ("95860", "95870", 20120101, 99991231, 9)]
    assert p2.skipped == [(6, "modifier indicator '7' is not 0, 1 or 9")]


def test_mue_layout_reads_the_indicator_digit_and_the_line_of_a_bad_row() -> None:
    parsed = parse_mue((FIX / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv").read_text())
    assert parsed.rows[:3] == [
        ("95885", 1, 2, "Code Descriptor / CPT Instruction"),
        ("95886", 4, 2, "Code Descriptor / CPT Instruction"),
        ("95870", 1, 1, "Anatomic Consideration"),
    ]
    assert parsed.skipped == [(11, "MUE value 'one' is not a whole number")]


def test_aoc_layout_by_header_names() -> None:
    parsed = parse_aoc((FIX / "AOC_V2025Q4-MCR.txt").read_text())
    assert parsed.rows[0] == ("95885", "95907", 1, 20130101, 99991231)
    assert parsed.rows[-1] == ("95887", "*", 2, 20100101, 20121231)


def test_data_import_and_list(data_dir: Path) -> None:
    code, out, _ = run(["data", "list", "--data-dir", str(data_dir)])
    assert code == 0
    assert [line.split()[:4] for line in out.splitlines()] == [
        ["aoc", "aoc-20251001", "from", "2025-10-01"],
        ["mue", "mue-20251001", "from", "2025-10-01"],
        ["ptp", "ptp-2025Q4", "from", "2025-10-01"],
        ["ptp", "ptp-2026Q1", "from", "2026-01-01"],
    ]
    store = DataStore(data_dir)
    assert store.in_force("ptp", 20251231).name == "ptp-2025Q4" and store.in_force("ptp", 20260101).name == "ptp-2026Q1"
    assert store.in_force("ptp", 20250930) is None


def test_data_import_errors(tmp_path: Path) -> None:
    code, out, err = run(["data", "import", str(FIX / "ccipra-v320r0-f1.txt"), "--data-dir", str(tmp_path)])
    assert code == 2 and out == ""
    assert err.startswith("cptkb: invalid input: --effective: missing required field; expected the date the edition takes effect")
    readme = Path(__file__).resolve().parent.parent / "README.md"
    code, out, err = run(["data", "import", str(readme), "--data-dir", str(tmp_path)])
    assert code == 2 and "PATH: not a PTP, MUE or add-on code table" in err and "README.md" in err


# --- checks ----------------------------------------------------------------------------------------


def test_no_edition_for_the_date_is_no_data_never_pass(ncci: Engine) -> None:
    """Before the first imported edition every table is no_data, with an info finding each."""
    d = evaluate(ncci, "2025-09-30", RIGHT_ARM + LEFT_ARM, NCS_3)
    assert checks(d) == [("aoc", "no_data", (), None), ("mue", "no_data", (), None), ("ptp", "no_data", (), None)]
    assert sorted(f["message"] for f in d["findings"] if f["rule"] == "ncci.no_data")[2] == (
        "No procedure-to-procedure (PTP) edition of the CMS NCCI tables is loaded for 2025-09-30:"
        " those edits were not checked (cptkb data import)."
    )
    assert ("info", "ncci.ptp.curated") in ncci_findings(d)
    assert [c["modifiers"] for c in d["codes"]] == [[], [], []]


def test_indicator_1_bypassed_on_different_limbs(ncci: Engine) -> None:
    """95886 (right arm) with 95885 (left arm): the indicator-1 edit is bypassed with XS on 95885 (C-5)."""
    d = evaluate(ncci, "2025-12-15", RIGHT_ARM + LEFT_ARM, NCS_3)
    assert [(c["code"], c["units"], c["modifiers"]) for c in d["codes"]] == [("95908", 1, []), ("95885", 1, ["XS"]), ("95886", 1, [])]
    assert ("ptp", "bypassed", ("95886", "95885"), "ptp-2025Q4") in checks(d)
    (finding,) = [f for f in d["findings"] if f["rule"] == "ncci.ptp.bypassed"]
    assert finding["message"] == "95885 carries modifier XS: the PTP edit 95886/95885 (modifier indicator 1, ptp-2025Q4) is bypassed because the two are on different limbs."
    # a pair key names both codes (finding_key_pair/3)
    assert finding["codes"] == ["95885", "95886"]


def test_indicator_0_in_the_later_edition(ncci: Engine) -> None:
    """A date between two editions uses the earlier; from 2026-01-01 the pair is indicator 0: an error, no modifier."""
    d = evaluate(ncci, "2026-02-01", RIGHT_ARM + LEFT_ARM, NCS_3)
    assert ("ptp", "fail", ("95886", "95885"), "ptp-2026Q1") in checks(d)
    assert ("error", "ncci.ptp.not_allowed") in ncci_findings(d)
    assert all(c["modifiers"] == [] for c in d["codes"])


def test_deletion_date_ends_an_edit(ncci: Engine) -> None:
    """95908/95937 is deleted on 2025-11-15 within the 2025Q4 edition: it applies on 11-01, not on 11-20."""
    before = evaluate(ncci, "2025-11-01", (), NCS_3, RNS)
    after = evaluate(ncci, "2025-11-20", (), NCS_3, RNS)
    assert ("ptp", "fail", ("95908", "95937"), "ptp-2025Q4") in checks(before)
    assert ("warning", "ncci.ptp.modifier_needed") in ncci_findings(before)
    assert ("ptp", "pass", (), "ptp-2025Q4") in checks(after)
    assert ("warning", "ncci.ptp.modifier_needed") not in ncci_findings(after)


def test_mue_indicator_1_against_2(ncci: Engine) -> None:
    """MUE 1 per line (MAI 1) for 95870 x2: a warning to split; MUE 1 per date (MAI 2) for 95885 x2: an error."""
    line = evaluate(ncci, "2025-12-15", LEFT_ARM + LEFT_LEG)
    assert ("mue", "fail", ("95870",), "mue-20251001") in checks(line)
    assert ncci_findings(line) == [("warning", "ncci.mue.line")]
    # the finding concerns the code that is its key (finding_key_code/1)
    assert [f["codes"] for f in line["findings"] if f["rule"] == "ncci.mue.line"] == [["95870"]]
    policy = evaluate(ncci, "2025-12-15", RIGHT_ARM + LEFT_ARM + LEFT_LEG, NCS_3)
    assert ("mue", "fail", ("95885",), "mue-20251001") in checks(policy)
    (msg,) = [f["message"] for f in policy["findings"] if f["rule"] == "ncci.mue.policy"]
    assert msg.startswith("95885 x2 is above its MUE of 1 per date of service (mue-20251001, adjudication indicator 2")
    assert ("mue", "pass", ("95886",), "mue-20251001") in checks(policy)


def test_aoc_type_1_needs_a_listed_primary(ncci: Engine) -> None:
    """95887 lists only 95909 in the AOC fixture: with 95908 it fails; 95885 with 95908 passes."""
    thoracic = [{"muscle": "thoracic paraspinal", "side": "right", "level": lv} for lv in ("T6", "T8")]
    d = evaluate(ncci, "2025-12-15", thoracic + LEFT_ARM, NCS_3)
    assert ("aoc", "fail", ("95887",), "aoc-20251001") in checks(d)
    assert ("aoc", "pass", ("95885",), "aoc-20251001") in checks(d)
    (msg,) = [f["message"] for f in d["findings"] if f["rule"] == "ncci.aoc.fail"]
    assert msg == "95887 is a type-1 add-on code in aoc-20251001 and none of its listed primaries (95909) is in the code set."


def test_claim_lines_against_ptp(ncci: Engine) -> None:
    """A claimed 95885 without XS is changed to carry it (indicator 1); with the indicator-0 edition it is rejected."""
    claim = [{"code": "95908", "units": 1, "modifiers": []}, {"code": "95886", "units": 1, "modifiers": []},
             {"code": "95885", "units": 1, "modifiers": []}]
    d = evaluate(ncci, "2025-12-15", RIGHT_ARM + LEFT_ARM, NCS_3, claim=claim)
    line = d["claim_review"][2]
    assert (line["status"], line["rules"], line["corrected"]) == ("changed", ["ncci.claim.bypass_modifier"], {"code": "95885", "units": 1, "modifiers": ["XS"]})
    assert d["corrected_claim"] == [
        {"code": "95908", "units": 1, "modifiers": []},
        {"code": "95886", "units": 1, "modifiers": []},
        {"code": "95885", "units": 1, "modifiers": ["XS"]},
    ]
    later = evaluate(ncci, "2026-02-01", RIGHT_ARM + LEFT_ARM, NCS_3, claim=claim)
    assert [r["status"] for r in later["claim_review"]] == ["accepted", "accepted", "rejected"]
    assert [line["code"] for line in later["corrected_claim"]] == ["95908", "95886"]
    assert later["claim_review"][2]["reasons"] == ["95885 is the column-2 code of a PTP pair with 95886 (modifier indicator 0, ptp-2026Q1): it cannot be billed with it."]


def test_checks_in_the_json_of_the_command(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """cptkb evaluate with CPTKB_DATA_DIR names the edition of every table it used."""
    import cptkb.reasoner.engine as engine_module

    monkeypatch.setenv("CPTKB_DATA_DIR", str(data_dir))
    monkeypatch.setattr(engine_module, "_DEFAULT", None)
    f = tmp_path / "e.json"
    f.write_text(json.dumps({"id": "c", "date_of_service": "2025-12-15", "needle_emg": RIGHT_ARM + LEFT_ARM, "nerve_conduction": NCS_3}))
    code, out, err = run(["evaluate", str(f)])
    assert code == 0, err
    editions = {c["table"]: c["edition"] for c in json.loads(out)["checks"]}
    assert editions == {"aoc": "aoc-20251001", "mue": "mue-20251001", "ptp": "ptp-2025Q4"}
    monkeypatch.setattr(engine_module, "_DEFAULT", None)
