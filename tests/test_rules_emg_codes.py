"""Needle EMG codes and the same-day nerve conduction switch (kb/rules/emg_codes.lp,
kb/rules/emg_nonlimb.lp).

Tiny named inputs in the schema of kb/schema.lp; each test asserts exactly the
atoms derived for the predicates it names (sorted lists). Expectations follow
docs/rules-emg-ncs.md, "The same-day nerve conduction switch".
"""

from __future__ import annotations

import pytest
from asp import derive

APB = "abductor_pollicis_brevis"
FIVE_NERVES = (APB, "first_dorsal_interosseous", "extensor_digitorum_communis", "biceps_brachii", "deltoid")
LEG = ("tibialis_anterior", "medial_gastrocnemius", "vastus_lateralis", "gluteus_medius", "biceps_femoris_short_head")
LIMBS = ("right_upper", "left_upper", "right_lower", "left_lower")

# One motor study: 95907 from 2013 (a primary of the add-ons).
NCS = ['enc_ncs(90,median,right,motor,"")']


def emg(i: int, muscle: str, side: str) -> str:
    return f"enc_emg({i},{muscle},{side})"


def limb(side: str, *muscles: str, start: int = 0) -> list[str]:
    return [emg(start + n, m, side) for n, m in enumerate(muscles)]


def complete(limb_id: str, start: int = 0) -> list[str]:
    """A complete limb: five muscles of five (upper) or five (lower) named nerves."""
    side, part = limb_id.split("_")
    return limb(side, *(FIVE_NERVES if part == "upper" else LEG), start=start)


def limited(limb_id: str, start: int = 0) -> list[str]:
    side, part = limb_id.split("_")
    return limb(side, APB if part == "upper" else "tibialis_anterior", start=start)


def paraspinal(i: int, muscle: str, side: str, level: str) -> list[str]:
    return [emg(i, muscle, side), f"enc_emg_level({i},{level})"]


def atoms(engine, facts: list[str], preds: str, **kw) -> list[str]:
    return derive(engine, facts, set(preds.split()), **kw)


# --- the same-day nerve conduction switch -----------------------------------------------------


def test_same_day_ncs_with_a_ladder_code(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs, AAN 2012 coding update; AAPM&R June 2017 coding Q&A:
    95907-95913 are the primaries of the add-ons (research note C-1, C-2)."""
    assert atoms(engine, limited("right_upper") + NCS, "same_day_ncs") == ["same_day_ncs"]


def test_no_same_day_ncs_without_nerve_conduction(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAN 2012 coding update; AAPM&R June 2017 Q&A)."""
    assert atoms(engine, limited("right_upper"), "same_day_ncs") == []


def test_same_day_ncs_with_nerve_conduction_alone(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs: the switch follows the NCS code, with or without EMG."""
    assert atoms(engine, NCS, "same_day_ncs") == ["same_day_ncs"]


def test_electrode_array_does_not_turn_the_switch(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAN 2012; AAPM&R June 2017): 95905 is not a primary of
    the add-ons, so a complete limb stays 95860 (docs: 'Electrode-array NCS (95905) ... do not turn the switch')."""
    facts = complete("right_upper") + ["enc_array(0,left_lower)"]
    assert atoms(engine, facts, "same_day_ncs code") == ['code("95860",1)', 'code("95905",1)']


def test_repetitive_stimulation_does_not_turn_the_switch(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAN 2012; AAPM&R June 2017): 95937 is not a primary of
    the add-ons (docs: repetitive stimulation does not turn the switch)."""
    facts = complete("right_upper") + ["enc_rns(0,ulnar,right)"]
    assert atoms(engine, facts, "same_day_ncs code") == ['code("95860",1)', 'code("95937",1)']


# --- without same-day NCS: limbs ----------------------------------------------------------------


@pytest.mark.parametrize(("count", "code"), [(1, "95860"), (2, "95861"), (3, "95863"), (4, "95864")])
def test_complete_limbs_code(engine, count: int, code: str) -> None:
    """Source: rule_source emg.code.limbs, CPT 95860-95864 descriptors; AAPM&R June 2017 coding Q&A: one code
    by the number of complete limbs, one unit (research note C-1, C-8)."""
    facts: list[str] = []
    for n, limb_id in enumerate(LIMBS[:count]):
        facts += complete(limb_id, start=5 * n)
    assert atoms(engine, facts, "emg_unit code") == [f'code("{code}",1)', f'emg_unit("{code}",session)']


def test_limited_limbs_are_95870_per_limb(engine) -> None:
    """Source: rule_source emg.code.limited_limb, CPT Assistant April 2002 via AAPC (95870 once per
    extremity; research note C-7)."""
    facts = limited("right_upper") + limited("left_lower", start=1)
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95870",2)',
        'emg_unit("95870",limb(left_lower))',
        'emg_unit("95870",limb(right_upper))',
    ]


def test_complete_and_limited_limbs_together(engine) -> None:
    """Source: rule_source emg.code.limbs and emg.code.limited_limb (CPT 95860-95864 descriptors; CPT
    Assistant April 2002): the complete limb takes 95860, the limited one a unit of 95870."""
    facts = complete("right_upper") + limited("left_upper", start=5)
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95860",1)',
        'code("95870",1)',
        'emg_unit("95860",session)',
        'emg_unit("95870",limb(left_upper))',
    ]


# --- without same-day NCS: non-limb sites ----------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "site"),
    [
        (paraspinal(0, "cervical_paraspinal", "left", "c5"), "cervical_paraspinal"),
        (paraspinal(0, "lumbar_paraspinal", "right", "l4"), "lumbar_paraspinal"),
        ([emg(0, "external_intercostal", "left")], "chest_wall"),
        ([emg(0, "rectus_abdominis", "right")], "abdominal_wall"),
    ],
)
def test_axial_site_is_a_unit_of_95870(engine, facts: list[str], site: str) -> None:
    """Source: rule_source emg.code.axial_site, CPT Assistant April 2002 via AAPC PM&R Coding Alert:
    one unit of 95870 per axial site without same-day NCS (research note C-12)."""
    assert atoms(engine, facts, "emg_unit code") == ['code("95870",1)', f'emg_unit("95870",site({site}))']


def test_unrelated_paraspinals_are_one_site_whatever_the_levels_and_sides(engine) -> None:
    """Source: rule_source emg.site.cervical_paraspinal, CPT Assistant April 2002 via AAPC PM&R Coding
    Alert: cervical paraspinals alone are one unit regardless of levels or sides (research note C-12)."""
    facts = (
        paraspinal(0, "cervical_paraspinal", "left", "c5")
        + paraspinal(1, "cervical_paraspinal", "right", "c7")
        + paraspinal(2, "thoracic_paraspinal", "left", "t1")
    )
    assert atoms(engine, facts, "emg_unit code site_examined") == [
        'code("95870",1)',
        'emg_unit("95870",site(cervical_paraspinal))',
        "site_examined(cervical_paraspinal)",
    ]


def test_related_paraspinal_adds_nothing(engine) -> None:
    """Source: rule_source emg.paraspinal.related, Medicare LCD text quoted by radiologybillingcoding.com
    (2015): paraspinals corresponding to an extremity are included in its code (research note C-9)."""
    facts = limited("right_upper") + paraspinal(1, "cervical_paraspinal", "right", "c6")
    assert atoms(engine, facts, "emg_unit code") == ['code("95870",1)', 'emg_unit("95870",limb(right_upper))']


def test_95870_units_are_limited_limbs_plus_axial_sites(engine) -> None:
    """Source: rule_source emg.code.limited_limb and emg.code.axial_site (CPT Assistant April 2002 via
    AAPC; research note C-7, C-12): 2 limited limbs + 4 axial sites = 95870 x6."""
    facts = (
        limited("left_upper")
        + limited("right_lower", start=1)
        + paraspinal(2, "cervical_paraspinal", "right", "c5")
        + paraspinal(3, "lumbar_paraspinal", "left", "s1")
        + [emg(4, "internal_intercostal", "left"), emg(5, "external_oblique", "right"), emg(6, "rectus_abdominis", "left")]
    )
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95870",6)',
        'emg_unit("95870",limb(left_upper))',
        'emg_unit("95870",limb(right_lower))',
        'emg_unit("95870",site(abdominal_wall))',
        'emg_unit("95870",site(cervical_paraspinal))',
        'emg_unit("95870",site(chest_wall))',
        'emg_unit("95870",site(lumbar_paraspinal))',
    ]


def test_thoracic_paraspinals_are_95869_once(engine) -> None:
    """Source: rule_source emg.code.thoracic_paraspinal and emg.site.thoracic_paraspinal, CPT 95869
    descriptor (thoracic paraspinal muscles excluding T1 or T12; research note C-10)."""
    facts = (
        paraspinal(0, "thoracic_paraspinal", "left", "t2")
        + paraspinal(1, "thoracic_paraspinal", "right", "t11")
        + paraspinal(2, "thoracic_paraspinal", "right", "t6")
    )
    assert atoms(engine, facts, "emg_unit code") == ['code("95869",1)', 'emg_unit("95869",session)']


def test_cranial_one_side(engine) -> None:
    """Source: rule_source emg.code.cranial_one_side, CPT 95867 descriptor; CPT Assistant 2008
    (research note C-13): cranial-nerve muscles on one side."""
    facts = [emg(0, "frontalis", "left"), emg(1, "orbicularis_oculi", "left")]
    assert atoms(engine, facts, "cranial_sides emg_unit code") == [
        'code("95867",1)',
        "cranial_sides(1)",
        'emg_unit("95867",session)',
    ]


def test_trapezius_is_a_cranial_nerve_muscle(engine) -> None:
    """Source: rule_source emg.site.cranial, CPT Assistant 2008 via Find-A-Code: trapezius is a
    cranial-nerve muscle (research note C-13), never a limb muscle."""
    facts = [emg(0, "trapezius", "right")]
    assert atoms(engine, facts, "cranial_sides limb_entry code") == ['code("95867",1)', "cranial_sides(1)"]


def test_cranial_both_sides(engine) -> None:
    """Source: rule_source emg.code.cranial_both_sides, CPT 95868 descriptor; CPT Assistant 2008
    (research note C-13): cranial-nerve muscles on both sides."""
    facts = [emg(0, "frontalis", "left"), emg(1, "masseter", "right")]
    assert atoms(engine, facts, "cranial_sides emg_unit code") == [
        'code("95868",1)',
        "cranial_sides(2)",
        'emg_unit("95868",session)',
    ]


def test_bilateral_cranial_entry_counts_both_sides(engine) -> None:
    """Source: rule_source emg.site.cranial (CPT Assistant 2008; research note C-13) and
    emg.code.cranial_both_sides (CPT 95868): a bilateral entry is both sides."""
    facts = [emg(0, "frontalis", "bilateral")]
    assert atoms(engine, facts, "cranial_sides site_examined code") == [
        'code("95868",1)',
        "cranial_sides(2)",
        "site_examined(cranial(left))",
        "site_examined(cranial(right))",
    ]


def test_larynx_is_95865_once_even_bilateral(engine) -> None:
    """Source: rule_source emg.code.larynx, CPT Assistant January 2007 via AAPC: 95865 larynx, one unit,
    inherently bilateral, no modifier 50."""
    facts = [emg(0, "thyroarytenoid", "bilateral"), emg(1, "cricothyroid", "left")]
    assert atoms(engine, facts, "emg_unit code") == ['code("95865",1)', 'emg_unit("95865",session)']


def test_hemidiaphragm_one_side(engine) -> None:
    """Source: rule_source emg.code.hemidiaphragm, CPT 95866 descriptor (hemidiaphragm); one unit per side
    (unconfirmed, research note section 1)."""
    facts = [emg(0, "diaphragm", "left")]
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95866",1)',
        'emg_unit("95866",site(hemidiaphragm(left)))',
    ]


def test_95866_per_side(engine) -> None:
    """Source: rule_source emg.code.hemidiaphragm and kb.unconfirmed.hemidiaphragm_unit, CPT 95866
    descriptor (hemidiaphragm); unit per side unconfirmed (research note section 1)."""
    facts = [emg(0, "diaphragm", "left"), emg(1, "diaphragm", "right"), emg(2, "diaphragm", "left")]
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95866",2)',
        'emg_unit("95866",site(hemidiaphragm(left)))',
        'emg_unit("95866",site(hemidiaphragm(right)))',
    ]
    assert [f for f in atoms(engine, facts, "finding") if "hemidiaphragm" in f] == [
        'finding("kb.unconfirmed.hemidiaphragm_unit",info,"95866")'
    ]


def test_sphincter_without_ncs(engine) -> None:
    """Source: rule_source emg.code.sphincter, CPT 51785 descriptor; 95870 excludes sphincters (research
    note C-14): 51785 once per session, never 95870."""
    facts = [emg(0, "external_anal_sphincter", "left"), emg(1, "external_urethral_sphincter", "right")]
    assert atoms(engine, facts, "emg_unit code site_examined") == [
        'code("51785",1)',
        'emg_unit("51785",session)',
    ]


# --- with same-day NCS ---------------------------------------------------------------------------


def test_sphincter_with_ncs(engine) -> None:
    """Source: rule_source emg.code.sphincter, CPT 51785 descriptor (research note C-14): 51785 once,
    with or without NCS; a sphincter is not a 95887 site."""
    facts = [emg(0, "external_anal_sphincter", "left")] + NCS
    assert atoms(engine, facts, "emg_unit code") == [
        'code("51785",1)',
        'code("95907",1)',
        'emg_unit("51785",session)',
    ]


def test_complete_limb_with_ncs_is_95886(engine) -> None:
    """Source: rule_source emg.code.complete_limb_with_ncs, CPT 95886 descriptor and parentheticals
    (AAPC 2012 coding update; AAPM&R June 2017): one unit per complete limb (research note C-5, C-6)."""
    facts = complete("right_upper") + NCS
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95886",1)',
        'code("95907",1)',
        'emg_unit("95886",limb(right_upper))',
    ]


def test_limited_limb_with_ncs_is_95885(engine) -> None:
    """Source: rule_source emg.code.limited_limb_with_ncs, CPT 95885 descriptor and parentheticals
    (AAPC 2012 coding update): one unit per limited limb (research note C-5, C-7)."""
    facts = limited("left_lower") + NCS
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95885",1)',
        'code("95907",1)',
        'emg_unit("95885",limb(left_lower))',
    ]


def test_four_limbs_with_ncs_one_addon_unit_per_limb(engine) -> None:
    """Source: rule_source emg.code.complete_limb_with_ncs and emg.code.limited_limb_with_ncs (CPT 95885/
    95886 parentheticals: one per limb, at most four together; research note C-5)."""
    facts = (
        complete("right_upper")
        + complete("left_lower", start=5)
        + limited("left_upper", start=10)
        + limited("right_lower", start=11)
        + NCS
    )
    assert atoms(engine, facts, "emg_unit code") == [
        'code("95885",2)',
        'code("95886",2)',
        'code("95907",1)',
        'emg_unit("95885",limb(left_upper))',
        'emg_unit("95885",limb(right_lower))',
        'emg_unit("95886",limb(left_lower))',
        'emg_unit("95886",limb(right_upper))',
    ]


NON_LIMB_SITES = (
    paraspinal(0, "cervical_paraspinal", "right", "c6")
    + paraspinal(1, "lumbar_paraspinal", "left", "l5")
    + paraspinal(2, "thoracic_paraspinal", "left", "t8")
    + [
        emg(3, "external_intercostal", "left"),
        emg(4, "rectus_abdominis", "right"),
        emg(5, "frontalis", "bilateral"),
        emg(6, "thyroarytenoid", "bilateral"),
        emg(7, "diaphragm", "left"),
        emg(8, "diaphragm", "right"),
        emg(9, "external_anal_sphincter", "left"),
    ]
)


def test_every_non_limb_site_with_ncs_is_a_unit_of_95887(engine) -> None:
    """Source: rule_source emg.code.site_with_ncs, CPT Assistant February 2012 via AAPC; CPT parenthetical
    (95887 not with 95867-95870): one unit of 95887 per non-limb site (research note C-4, C-11)."""
    assert atoms(engine, NON_LIMB_SITES + NCS, "emg_unit") == [
        'emg_unit("51785",session)',
        'emg_unit("95887",site(abdominal_wall))',
        'emg_unit("95887",site(cervical_paraspinal))',
        'emg_unit("95887",site(chest_wall))',
        'emg_unit("95887",site(cranial(left)))',
        'emg_unit("95887",site(cranial(right)))',
        'emg_unit("95887",site(hemidiaphragm(left)))',
        'emg_unit("95887",site(hemidiaphragm(right)))',
        'emg_unit("95887",site(larynx))',
        'emg_unit("95887",site(lumbar_paraspinal))',
        'emg_unit("95887",site(thoracic_paraspinal))',
    ]


def test_non_limb_codes_without_ncs(engine) -> None:
    """Source: rule_sources emg.code.axial_site, emg.code.thoracic_paraspinal, emg.code.cranial_both_sides,
    emg.code.larynx, emg.code.hemidiaphragm, emg.code.sphincter (research note C-10 to C-14): the same
    sites without NCS."""
    assert atoms(engine, NON_LIMB_SITES, "code") == [
        'code("51785",1)',
        'code("95865",1)',
        'code("95866",2)',
        'code("95868",1)',
        'code("95869",1)',
        'code("95870",4)',
    ]


def test_with_ncs_never_any_of_95860_to_95870(engine) -> None:
    """Source: rule_sources emg.code.complete_limb_with_ncs, emg.code.limited_limb_with_ncs,
    emg.code.site_with_ncs: CPT parentheticals quoted by AAN 2012 (95885/95886 never with 95860-95864,
    95870; 95887 never with 95867-95870; research note C-3, C-4): the exact code list."""
    # the limbs are on the sides where the paraspinals of NON_LIMB_SITES stay unrelated
    facts = complete("left_upper", start=20) + limited("right_lower", start=25) + NON_LIMB_SITES + NCS
    assert atoms(engine, facts, "code") == [
        'code("51785",1)',
        'code("95885",1)',
        'code("95886",1)',
        'code("95887",10)',
        'code("95907",1)',
    ]


def test_2012_per_nerve_primary_turns_the_switch(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAPC 2012 coding update: the add-ons' primaries in 2012
    are 95900, 95903 and 95904; research note C-2)."""
    facts = complete("right_upper") + ['enc_ncs(90,median,right,sensory,"")']
    assert atoms(engine, facts, "same_day_ncs code", date=20120615) == [
        'code("95886",1)',
        'code("95904",1)',
        "same_day_ncs",
    ]
