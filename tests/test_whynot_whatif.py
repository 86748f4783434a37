"""Why not, what it would take, and the difference between two encounters.

Sources: research note C-1 (one limb code by the number of complete limbs, none with same-day NCS),
C-6 (complete limb: five muscles and three nerves or four levels), 2b (the 95907-95913 ladder),
the code catalog dates (kb/data/catalog.lp); docs/explanations.md.
"""

from __future__ import annotations

import json

import pytest

from cptkb.reasoner.engine import Engine
from cptkb.reasoner.whatif import diff, what_if
from cptkb.reasoner.whynot import why_not
from test_cli import run

RIGHT_ARM = [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps brachii", "deltoid")]
LEFT_ARM_3 = [{"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC")]
ONE_COMPLETE_ONE_LIMITED = {"id": "w1", "date_of_service": "2024-05-01", "needle_emg": RIGHT_ARM + LEFT_ARM_3}
MEDIAN_MOTOR = {"nerve": "median", "side": "left", "study": "motor"}


def studies(n: int) -> list[dict[str, str]]:
    nerves = [("median", "motor"), ("ulnar", "motor"), ("median", "sensory"), ("ulnar", "sensory"), ("radial", "sensory"), ("sural", "sensory")]
    return [{"nerve": nv, "side": side, "study": st} for side in ("left", "right") for nv, st in nerves][:n]


def find_miss(misses, rule):
    """The first miss of ``rule`` anywhere below ``misses`` (depth first)."""
    for m in misses:
        if m["rule"] == rule:
            return m
        found = find_miss(m["failed"]["because"], rule)
        if found is not None:
            return found
    return None


# --- why not ------------------------------------------------------------------------------------


def test_why_not_95861_names_the_incomplete_limb_and_its_count(engine: Engine) -> None:
    """95861 needs two complete limbs: one is complete, the left arm has 3 muscles where 5 are needed (C-1, C-6)."""
    answer = why_not(engine, ONE_COMPLETE_ONE_LIMITED, "95861").to_dict()
    assert answer["in_code_set"] is False
    assert [c["code"] for c in answer["codes"]] == ["95860", "95870"]
    limbs = find_miss(answer["rules"], "emg.code.limbs")
    assert limbs["concludes"] == 'emg_unit("95861",session)'
    assert 'limb_code(2,"95861")' in limbs["held"] and "not same_day_ncs" in limbs["held"]
    assert limbs["failed"]["kind"] == "missing" and limbs["failed"]["needed"] == "complete_limb_count(2)"
    assert limbs["failed"]["found"] == ["complete_limb_count(1)"]
    count = find_miss(limbs["failed"]["because"], "emg.limb.complete_count")
    assert count["failed"]["kind"] == "count"
    assert count["failed"]["text"] == "the count of limb_complete is 1, not 2"
    assert count["failed"]["found"] == ["limb_complete(right_upper)"]
    nerves = find_miss(count["failed"]["because"], "emg.limb.complete_nerves")
    assert nerves["concludes"] == "limb_complete(left_upper)"
    assert nerves["held"] == ["limb_muscle_count(left_upper,3)"]
    assert nerves["failed"] == {"kind": "comparison", "needed": "3 >= 5", "text": "3 >= 5 is false", "found": ["M = 3"], "because": []}
    assert "CMS CY1998 MPFS final rule" in nerves["source"] and nerves["evidence"].startswith("verified")


def test_why_not_95860_is_blocked_by_same_day_nerve_conduction(engine: Engine) -> None:
    """With a same-day nerve conduction study the limb codes give way to 95885/95886 (C-1, C-2)."""
    enc = {"id": "w2", "date_of_service": "2024-05-01", "needle_emg": RIGHT_ARM, "nerve_conduction": [MEDIAN_MOTOR]}
    answer = why_not(engine, enc, "95860")
    data = answer.to_dict()
    limbs = find_miss(data["rules"], "emg.code.limbs")
    assert limbs["failed"]["kind"] == "blocked" and limbs["failed"]["needed"] == "not same_day_ncs"
    assert limbs["failed"]["found"] == ["same_day_ncs"]
    assert limbs["failed"]["text"] == "blocked: same_day_ncs holds (concluded by emg.switch.same_day_ncs)"
    text = answer.to_text()
    assert text.startswith("95860 is not in the valid code set of w2 (codes: 95907, 95886).")
    assert "blocking: same_day_ncs" in text


def test_why_not_95909_with_three_studies_fails_the_ladder_comparison(engine: Engine) -> None:
    """Three studies are 95908; 95909 needs 5 or 6 (2b)."""
    enc = {"id": "w3", "date_of_service": "2024-05-01", "nerve_conduction": studies(3)}
    ladder = find_miss(why_not(engine, enc, "95909").to_dict()["rules"], "ncs.code.ladder")
    assert 'ncs_ladder("95909",5,6)' in ladder["held"] and "ncs_study_count(3)" in ladder["held"]
    assert ladder["failed"]["kind"] == "comparison" and ladder["failed"]["needed"] == "5 <= 3"


def test_why_not_a_2012_code_in_2024_fails_on_the_catalog_dates(engine: Engine) -> None:
    """95900 was retired at the end of 2012 (kb/data/catalog.lp)."""
    enc = {"id": "w4", "date_of_service": "2024-05-01", "nerve_conduction": [MEDIAN_MOTOR]}
    in_force = find_miss(why_not(engine, enc, "95900").to_dict()["rules"], "catalog.in_force")
    assert in_force["held"] == ['cpt_code("95900",20120101,20121231)', "enc_date(20240501)", "20120101 <= 20240501"]
    assert in_force["failed"]["needed"] == "20240501 <= 20121231"


def test_why_a_code_is_in_the_set(engine: Engine) -> None:
    answer = why_not(engine, ONE_COMPLETE_ONE_LIMITED, "95860")
    assert answer.in_set
    text = answer.to_text()
    assert text.startswith("95860 is in the valid code set of w1. Why:\n95860 x1  ")
    assert "- emg.code.limbs:" in text and "because there is no: same_day_ncs" in text


def test_why_not_a_code_no_rule_produces(engine: Engine) -> None:
    answer = why_not(engine, {"id": "w5", "date_of_service": "2024-05-01"}, "95940")
    assert answer.misses == []
    assert "No rule of the knowledge base can produce it" in answer.to_text()


@pytest.mark.parametrize("date", ["2012-06-01", "2024-05-01"])
def test_why_not_answers_for_every_code(engine: Engine, date: str) -> None:
    """Every catalog code gets an answer: in the set with its reasons, or the rules that could produce it."""
    enc = {"id": "all", "date_of_service": date, "needle_emg": RIGHT_ARM, "nerve_conduction": studies(2)}
    for code in sorted(engine.vocab.codes):
        answer = why_not(engine, enc, code)
        text = answer.to_text()
        assert text.startswith(f"{code} is ")
        if not answer.in_set and answer.misses:
            assert all(m.rule is None or m.rule in engine.vocab.rules for m in answer.misses)


# --- what it would take ----------------------------------------------------------------------------


def test_what_if_95861_adds_two_muscles_to_the_limited_limb(engine: Engine) -> None:
    """Minimum known: the left arm has 3 muscles (APB, FDI, EDC: median, ulnar, radial), two more make it complete."""
    answer = what_if(engine, ONE_COMPLETE_ONE_LIMITED, "95861")
    assert answer.status == "found" and answer.optimal and len(answer.edits) == 2
    assert all(e.action == "add" and e.field == "needle_emg" and e.entry["side"] == "left" for e in answer.edits)
    assert [c.code for c in answer.after.codes] == ["95861"]
    d = answer.diff.to_dict()
    assert [c["code"] for c in d["codes_added"]] == ["95861"]
    assert [c["code"] for c in d["codes_removed"]] == ["95860", "95870"]
    assert d["rules_removed"] == ["emg.code.limited_limb", "emg.limb.limited", "ncci.ptp.curated"]
    assert answer.encounter["needle_emg"][:8] == ONE_COMPLETE_ONE_LIMITED["needle_emg"]


def test_what_if_95886_adds_one_nerve_conduction_study(engine: Engine) -> None:
    enc = {"id": "w6", "date_of_service": "2024-05-01", "needle_emg": RIGHT_ARM}
    answer = what_if(engine, enc, "95886")
    assert answer.status == "found" and answer.optimal
    assert [(e.action, e.field) for e in answer.edits] == [("add", "nerve_conduction")]
    assert [c.code for c in answer.after.codes] == ["95907", "95886"]


def test_what_if_95860_removes_the_same_day_study(engine: Engine) -> None:
    enc = {"id": "w7", "date_of_service": "2024-05-01", "needle_emg": RIGHT_ARM, "nerve_conduction": [MEDIAN_MOTOR]}
    answer = what_if(engine, enc, "95860")
    assert answer.optimal
    assert [e.to_dict() for e in answer.edits] == [
        {"action": "remove", "field": "nerve_conduction[0]", "text": "remove nerve_conduction[0]: median motor conduction study, left", "entry": MEDIAN_MOTOR}
    ]
    assert "nerve_conduction" not in answer.encounter


@pytest.mark.parametrize("have,code,edits", [(0, "95909", 5), (3, "95909", 2), (4, "95907", 2), (12, "95913", 1)])
def test_what_if_moves_along_the_ladder(engine: Engine, have: int, code: str, edits: int) -> None:
    """The ladder by study count (2b): from `have` studies, the fewest studies added or removed."""
    enc = {"id": "w8", "date_of_service": "2024-05-01"}
    if have:
        enc["nerve_conduction"] = studies(have)
    answer = what_if(engine, enc, code)
    assert answer.status == "found" and answer.optimal and len(answer.edits) == edits
    assert answer.after.code(code) is not None


def test_what_if_four_muscles_three_nerves_needs_one_more(engine: Engine) -> None:
    """4 vs 5 muscles (C-6): one muscle more completes the limb."""
    enc = {"id": "w9", "date_of_service": "2024-05-01", "needle_emg": RIGHT_ARM[:4]}
    answer = what_if(engine, enc, "95860")
    assert answer.optimal and len(answer.edits) == 1 and answer.edits[0].field == "needle_emg"


def test_what_if_already_valid_and_impossible(engine: Engine) -> None:
    assert what_if(engine, ONE_COMPLETE_ONE_LIMITED, "95860").status == "already"
    retired = what_if(engine, ONE_COMPLETE_ONE_LIMITED, "95900")
    assert retired.status == "not_found" and retired.edits == []
    assert "No change within the what-if space" in retired.to_text()


def test_what_if_works_for_every_code_in_force(engine: Engine) -> None:
    """From an empty 2024 encounter every code a rule produces in 2013-2026 is reached, minimally."""
    produced = {"51785", "95860", "95861", "95863", "95864", "95865", "95866", "95867", "95868", "95869", "95870",
                "95872", "95885", "95886", "95887", "95905", "95907", "95908", "95909", "95910", "95911", "95912",
                "95913", "95937"}
    enc = {"id": "empty", "date_of_service": "2024-05-01"}
    for code in sorted(engine.vocab.codes):
        answer = what_if(engine, enc, code)
        assert answer.status == ("found" if code in produced else "not_found"), code
        assert answer.optimal, code


# --- command line --------------------------------------------------------------------------------------


def test_cli_why_not_what_if_and_diff(tmp_path) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps(ONE_COMPLETE_ONE_LIMITED))
    code, out, err = run(["why-not", "95861", str(a)])
    assert code == 0 and err == "" and out.startswith("95861 is not in the valid code set of w1 (codes: 95860, 95870).")
    code, out, err = run(["what-if", "95861", str(a), "--format", "json"])
    data = json.loads(out)
    assert code == 0 and data["status"] == "found" and data["changes"] == 2 and data["minimal"] is True
    b = tmp_path / "b.json"
    b.write_text(json.dumps(data["encounter"]))
    code, out, err = run(["diff", str(a), str(b)])
    assert code == 0
    assert out.splitlines()[:3] == ["+ code 95861 x1", "- code 95860 x1", "- code 95870 x1"]
    code, out, _ = run(["diff", str(a), str(a)])
    assert out == "no difference: the same codes, findings, claim review and rules\n"
    code, out, err = run(["why-not", "99999", str(a)])
    assert code == 2 and out == "" and err.startswith('cptkb: invalid input: CODE: unknown code "99999"; expected a code of')


def test_diff_of_results(engine: Engine) -> None:
    """A facility place of service adds modifier 26 (research note section 5)."""
    a = engine.evaluate(ONE_COMPLETE_ONE_LIMITED, trace=True)
    b = engine.evaluate({**ONE_COMPLETE_ONE_LIMITED, "place_of_service": "22"}, trace=True)
    d = diff(a, b)
    assert [(x.code, y.modifiers) for x, y in d.codes_changed] == [("95860", ("26",)), ("95870", ("26",))]
    assert d.rules_added == ["doc.interpretation", "mod.26_facility", "mod.facility"] and d.rules_removed == []
    assert d.to_text().splitlines() == [
        "~ code 95860 x1 -> 95860 x1 -26",
        "~ code 95870 x1 -> 95870 x1 -26",
        "+ info doc.interpretation: With modifier 26 on 95860 the record must hold the physician's interpretation report, not only the recorded values.",
        "+ info doc.interpretation: With modifier 26 on 95870 the record must hold the physician's interpretation report, not only the recorded values.",
        "+ rules applied: doc.interpretation, mod.26_facility, mod.facility",
    ]


def test_what_if_candidates_are_known_to_the_knowledge_base(engine: Engine) -> None:
    """Every muscle and nerve the what-if space may add is in kb/data (a misspelt id would silently never be tried)."""
    import re

    text = (engine.kb_dir / "whatif" / "edits.lp").read_text()
    muscles = re.findall(r"whatif_(?:limb|side|any_side)_muscle\(([a-z]\w*)\)\.", text)
    nerves = re.findall(r"whatif_nerve\((\w+)\)\.", text)
    assert len(muscles) >= 20 and len(nerves) >= 6
    assert [m for m in muscles if m not in engine.vocab.muscles] == []
    assert [n for n in nerves if n not in engine.vocab.nerves] == []
