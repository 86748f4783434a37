"""Claim review: each claimed line against the code set of the encounter (kb/rules/claim.lp).

Tiny named inputs in the schema of kb/schema.lp (enc_claim(I, Code, Units),
enc_claim_mod(I, Mod), enc_pos(P)); each test asserts exactly the review/2,
review_reason/2 and review_corrected/3 atoms (sorted lists). docs/rules-emg-ncs.md
does not describe claim review; the expectations follow the header of
kb/rules/claim.lp and the rule_source facts cited in each docstring.
"""

from __future__ import annotations

import re

from asp import derive

REVIEW = "review review_reason review_corrected review_corrected_modifier"

FIVE_NERVES = ("abductor_pollicis_brevis", "first_dorsal_interosseous", "extensor_digitorum_communis",
               "biceps_brachii", "deltoid")
LEG = ("tibialis_anterior", "medial_gastrocnemius", "vastus_lateralis", "gluteus_medius", "biceps_femoris_short_head")


def emg(i: int, muscle: str, side: str) -> str:
    return f"enc_emg({i},{muscle},{side})"


# One complete right arm: 95860 without NCS, 95886 with NCS.
ARM = [emg(n, m, "right") for n, m in enumerate(FIVE_NERVES)]
# Two limited limbs: 95870 x2.
TWO_LIMITED = [emg(0, "abductor_pollicis_brevis", "left"), emg(1, "tibialis_anterior", "right")]
# Four complete limbs.
FOUR_LIMBS = (
    [emg(n, m, "right") for n, m in enumerate(FIVE_NERVES)]
    + [emg(5 + n, m, "left") for n, m in enumerate(FIVE_NERVES)]
    + [emg(10 + n, m, "right") for n, m in enumerate(LEG)]
    + [emg(15 + n, m, "left") for n, m in enumerate(LEG)]
)
NCS = ['enc_ncs(90,median,right,motor,"")']  # 95907 x1
THREE_STUDIES = NCS + ['enc_ncs(91,ulnar,right,motor,"")', 'enc_ncs(92,median,right,sensory,"")']  # 95908 x1


def claim(i: int, code: str, units: int = 1, *mods: str) -> list[str]:
    return ["enc_claim_given", f'enc_claim({i},"{code}",{units})'] + [f'enc_claim_mod({i},"{m}")' for m in mods]


def atoms(engine, facts: list[str], preds: str, **kw) -> list[str]:
    return derive(engine, facts, set(preds.split()), **kw)


def claim_findings(engine, facts: list[str], **kw) -> list[str]:
    return [f for f in atoms(engine, facts, "finding", **kw) if '"claim.' in f]


# --- accepted, units ------------------------------------------------------------------------------


def test_accepted(engine) -> None:
    """Source: rule_source claim.accepted ('the code set rules': the line matches the code set)."""
    facts = ARM + claim(0, "95860")
    assert atoms(engine, facts, REVIEW) == ["review(0,accepted)", 'review_reason(0,"claim.accepted")']
    assert claim_findings(engine, facts) == []


def test_units_above(engine) -> None:
    """Source: rule_source claim.units_above ('the unit rules of the code set': units above what the
    encounter supports); 95870 is one unit per limited limb (research note C-7)."""
    facts = TWO_LIMITED + claim(0, "95870", 3)
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95870",2)',
        'review_reason(0,"claim.units_above")',
    ]


def test_units_below(engine) -> None:
    """Source: rule_source claim.units_below ('the unit rules of the code set': units below what the
    encounter supports)."""
    facts = TWO_LIMITED + claim(0, "95870", 1)
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95870",2)',
        'review_reason(0,"claim.units_below")',
    ]


def test_limb_cap(engine) -> None:
    """Source: rule_source claim.limb_cap, CPT parenthetical quoted by AAPM&R June 2017 coding Q&A: 95885 and
    95886 together at most 4 units, one per limb (research note C-5); four complete limbs support 95886 x4."""
    facts = FOUR_LIMBS + NCS + claim(0, "95907") + claim(1, "95886", 5)
    assert atoms(engine, facts, REVIEW) == [
        "review(0,accepted)",
        "review(1,changed)",
        'review_corrected(1,"95886",4)',
        'review_reason(0,"claim.accepted")',
        'review_reason(1,"claim.limb_cap")',
        'review_reason(1,"claim.units_above")',
    ]


# --- modifier 26 ----------------------------------------------------------------------------------


def test_modifier_26_missing_in_a_facility(engine) -> None:
    """Source: rule_source claim.modifier_26, AAPC Neurology Coding Alert, performing and interpreting EMG
    tests: modifier 26 in a facility setting (POS 22, research note section 5)."""
    facts = ARM + ['enc_pos("22")'] + claim(0, "95860")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95860",1)',
        'review_corrected_modifier(0,"26")',
        'review_reason(0,"claim.modifier_26")',
    ]


def test_modifier_26_extra_in_an_office(engine) -> None:
    """Source: rule_source claim.modifier_26, AAPC Neurology Coding Alert, performing and interpreting EMG
    tests: modifier 26 in a facility setting, none otherwise (POS 11, research note section 5)."""
    facts = ARM + ['enc_pos("11")'] + claim(0, "95860", 1, "26")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95860",1)',
        'review_reason(0,"claim.modifier_26")',
    ]


def test_modifier_26_present_in_a_facility_is_accepted(engine) -> None:
    """Source: rule_source claim.modifier_26 and claim.accepted (research note section 5): 95860-26 in POS 22
    matches the code set."""
    facts = ARM + ['enc_pos("22")'] + claim(0, "95860", 1, "26")
    assert atoms(engine, facts, REVIEW) == ["review(0,accepted)", 'review_reason(0,"claim.accepted")']


# --- ladders ----------------------------------------------------------------------------------------


def test_ladder_substitution_emg(engine) -> None:
    """Source: rule_source claim.ladder, CPT 95860-95864 descriptors: one step of a ladder is chosen by a count;
    95861 (two limbs) for one complete limb is replaced by 95860."""
    facts = ARM + claim(0, "95861")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95860",1)',
        'review_reason(0,"claim.ladder")',
    ]


def test_ladder_substitution_ncs(engine) -> None:
    """Source: rule_source claim.ladder, CPT 95907-95913 descriptors: 95909 (5-6 studies) for three studies
    is replaced by 95908."""
    facts = THREE_STUDIES + claim(0, "95909")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        'review_corrected(0,"95908",1)',
        'review_reason(0,"claim.ladder")',
    ]


def test_ladder_step_beside_the_right_one_is_not_supported(engine) -> None:
    """Source: rule_sources claim.ladder and claim.not_supported: when the supported step is already claimed,
    a second step of the ladder has nothing to become."""
    facts = NCS + claim(0, "95907") + claim(1, "95908")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,accepted)",
        "review(1,rejected)",
        'review_reason(0,"claim.accepted")',
        'review_reason(1,"claim.not_supported")',
    ]


# --- rejected lines ------------------------------------------------------------------------------------


def test_addon_without_primary(engine) -> None:
    """Source: rule_source claim.addon_without_primary, AAPM&R June 2017 coding Q&A; CMS NCCI add-on code edits:
    an add-on needs an eligible primary on the same claim (research note C-2, 3a)."""
    facts = ARM + NCS + claim(0, "95886")
    assert atoms(engine, facts, REVIEW) == ["review(0,rejected)", 'review_reason(0,"claim.addon_without_primary")']


def test_wrong_family_on_a_day_with_ncs(engine) -> None:
    """Source: rule_source claim.wrong_family, CPT parentheticals quoted by AAN 2012 (95885/95886 not with
    95860-95870; research note C-1, C-3, C-4): 95860 on a day with nerve conduction."""
    facts = ARM + NCS + claim(0, "95907") + claim(1, "95860")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,accepted)",
        "review(1,rejected)",
        'review_reason(0,"claim.accepted")',
        'review_reason(1,"claim.wrong_family")',
    ]


def test_wrong_family_on_a_day_without_ncs(engine) -> None:
    """Source: rule_source claim.wrong_family_no_ncs, AAN 2012 coding update; AAPM&R June 2017 coding Q&A:
    the add-ons 95885-95887 on a day without nerve conduction (research note C-1, C-2); it has no primary
    either (claim.addon_without_primary)."""
    facts = ARM + claim(0, "95886")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,rejected)",
        'review_reason(0,"claim.addon_without_primary")',
        'review_reason(0,"claim.wrong_family_no_ncs")',
    ]


def test_not_in_force(engine) -> None:
    """Source: rule_source claim.not_in_force, kb/data/catalog.lp code dates (AAN 2013 CPT changes): 95903 was
    retired on 2012-12-31; in 2014 it is rejected."""
    facts = NCS + ["enc_ncs_fwave(90)"] + claim(0, "95903")
    assert atoms(engine, facts, REVIEW, date=20140301) == ["review(0,rejected)", 'review_reason(0,"claim.not_in_force")']


def test_not_in_force_before_2013(engine) -> None:
    """Source: rule_source claim.not_in_force, kb/data/catalog.lp code dates (AAN 2013 CPT changes): 95907
    starts on 2013-01-01."""
    facts = NCS + claim(0, "95907")
    assert atoms(engine, facts, REVIEW, date=20120615) == ["review(0,rejected)", 'review_reason(0,"claim.not_in_force")']


def test_not_supported(engine) -> None:
    """Source: rule_source claim.not_supported ('the code set rules': the encounter supports no such code):
    95937 without repetitive stimulation."""
    facts = NCS + claim(0, "95907") + claim(1, "95937")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,accepted)",
        "review(1,rejected)",
        'review_reason(0,"claim.accepted")',
        'review_reason(1,"claim.not_supported")',
    ]


# --- several lines of one code ----------------------------------------------------------------------------


def test_two_lines_of_one_code_merged(engine) -> None:
    """Source: rule_source claim.merged, CMS claim convention: one code, one line with its units; the first line
    carries the corrected units (rule_source claim.units_above), the other is merged into it."""
    facts = NCS + claim(0, "95907") + claim(1, "95907")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,changed)",
        "review(1,rejected)",
        'review_corrected(0,"95907",1)',
        'review_reason(0,"claim.units_above")',
        'review_reason(1,"claim.merged")',
    ]


def test_two_lines_adding_up_to_the_units_are_accepted(engine) -> None:
    """Source: rule_source claim.accepted and the kb/rules/claim.lp header (lines of one code are reviewed
    together: their units are added up): 95870 x1 + x1 for two limited limbs."""
    facts = TWO_LIMITED + claim(0, "95870") + claim(1, "95870")
    assert atoms(engine, facts, REVIEW) == [
        "review(0,accepted)",
        "review(1,accepted)",
        'review_reason(0,"claim.accepted")',
        'review_reason(1,"claim.accepted")',
    ]


def corrected_total(found: list[str], claimed: dict[int, int]) -> int:
    """Units on the corrected claim: accepted lines as claimed, changed lines as corrected, rejected none."""
    total = 0
    for a in found:
        m = re.fullmatch(r"review\((\d+),(\w+)\)", a)
        if m and m.group(2) == "accepted":
            total += claimed[int(m.group(1))]
        m = re.fullmatch(r'review_corrected\((\d+),"\w+",(\d+)\)', a)
        if m:
            total += int(m.group(2))
    return total


def test_two_lines_corrected_claim_keeps_the_supported_units(engine) -> None:
    """Source: rule_source claim.merged (CMS claim convention: one code, one line with its units) and the
    kb/rules/claim.lp header; modifier 26 in POS 22 (rule_source claim.modifier_26, research note section 5)."""
    facts = TWO_LIMITED + ['enc_pos("22")'] + claim(0, "95870", 1, "26") + claim(1, "95870", 1)
    found = atoms(engine, facts, REVIEW)
    assert corrected_total(found, {0: 1, 1: 1}) == 2, found


# --- codes the claim leaves out -------------------------------------------------------------------------------


def test_code_missing_finding(engine) -> None:
    """Source: rule_source claim.code_missing ('the code set rules': a code the encounter supports is not on
    the claim)."""
    facts = ARM + NCS + claim(0, "95907")
    assert atoms(engine, facts, REVIEW) == ["review(0,accepted)", 'review_reason(0,"claim.accepted")']
    assert claim_findings(engine, facts) == ['finding("claim.code_missing",warning,"95886")']


def test_code_missing_for_every_code_of_a_rejected_claim(engine) -> None:
    """Source: rule_sources claim.code_missing and claim.addon_without_primary (research note C-2): the rejected
    add-on line targets no code, so both supported codes are missing."""
    facts = ARM + NCS + claim(0, "95886")
    assert claim_findings(engine, facts) == [
        'finding("claim.code_missing",warning,"95886")',
        'finding("claim.code_missing",warning,"95907")',
    ]


def test_no_claim_no_review(engine) -> None:
    """Source: rule_source claim.code_missing (only when a claim is given; kb/schema.lp enc_claim/3)."""
    facts = ARM + NCS
    assert atoms(engine, facts, REVIEW) == []
    assert claim_findings(engine, facts) == []


def test_first_line_changed_for_its_modifier_keeps_the_other_lines(engine) -> None:
    """Source: rule_sources claim.modifier_26 and claim.merged: lines of one code are merged only when
    their units are corrected; a first line changed for modifier 26 alone (POS 11) keeps its units and the
    second line stands, so the corrected claim still bills the 2 supported units."""
    facts = TWO_LIMITED + claim(0, "95870", 1, "26") + claim(1, "95870", 1)
    found = atoms(engine, facts, REVIEW)
    assert "review(0,changed)" in found and 'review_corrected(0,"95870",1)' in found
    assert "review(1,accepted)" in found
    assert corrected_total(found, {0: 1, 1: 1}) == 2, found


def test_addon_the_family_never_derives_is_not_supported(engine) -> None:
    """Source: rule_source claim.not_supported: 95873 (chemodenervation guidance) is known to the catalog
    but no rule of this family derives it and the catalog lists no primary for it, so it is not
    supported rather than an add-on without its primary."""
    facts = TWO_LIMITED + claim(0, "95873")
    found = atoms(engine, facts, REVIEW)
    assert found == ["review(0,rejected)", 'review_reason(0,"claim.not_supported")']
