"""Needle EMG limbs and paraspinal muscles (kb/rules/emg_limb.lp, kb/rules/common.lp).

Tiny named inputs in the schema of kb/schema.lp; each test asserts exactly the
atoms the knowledge base derives for the predicates it names (sorted lists).
Expectations follow docs/rules-emg-ncs.md, "Needle EMG: regions, limbs and sites".

Anatomy used (kb/data/anatomy.lp; nerve, roots):
APB median C8 T1; OPP (opponens pollicis) median C8 T1; PT (pronator teres)
median C6 C7; FDI ulnar C8 T1; ADM ulnar C8 T1; FCU ulnar C7 C8; EDC radial
C7 C8; BIC (biceps brachii) musculocutaneous C5 C6; DEL (deltoid) axillary C5 C6;
lower limb: TA peroneal L4 L5; EHL peroneal L5; EDL and PL peroneal L5 S1;
MG (medial gastrocnemius) tibial S1 S2.
"""

from __future__ import annotations

import pytest
from asp import derive, rules_fired

SWITCH = "switch(paraspinals_count_toward_five)"

APB = "abductor_pollicis_brevis"
OPP = "opponens_pollicis"
PT = "pronator_teres"
FDI = "first_dorsal_interosseous"
ADM = "abductor_digiti_minimi"
FCU = "flexor_carpi_ulnaris"
EDC = "extensor_digitorum_communis"
BIC = "biceps_brachii"
DEL = "deltoid"


def emg(i: int, muscle: str, side: str) -> str:
    return f"enc_emg({i},{muscle},{side})"


def limb(side: str, *muscles: str, start: int = 0) -> list[str]:
    """One needle_emg entry per muscle, all on ``side``, indexes from ``start``."""
    return [emg(start + n, m, side) for n, m in enumerate(muscles)]


def paraspinal(i: int, muscle: str, side: str, level: str) -> list[str]:
    return [emg(i, muscle, side), f"enc_emg_level({i},{level})"]


def atoms(engine, facts: list[str], preds: str, **kw) -> list[str]:
    return derive(engine, facts, set(preds.split()), **kw)


# Five muscles, five nerves (median, ulnar, radial, musculocutaneous, axillary), roots C5-T1.
FIVE_NERVES = (APB, FDI, EDC, BIC, DEL)
# Five muscles, three nerves (median, ulnar, radial), three roots (C7, C8, T1).
BY_NERVES = (APB, OPP, FDI, ADM, EDC)
# Five muscles, two nerves (ulnar, median), four roots (C6, C7, C8, T1).
BY_ROOTS = (FDI, ADM, FCU, APB, PT)
# Five muscles, two nerves (ulnar, median), three roots (C7, C8, T1).
NEITHER = (FDI, ADM, FCU, APB, OPP)
# Four muscles, four nerves (median, ulnar, radial, musculocutaneous), five roots.
FOUR_MUSCLES = (APB, FDI, EDC, BIC)


# --- limb entries and distinct muscles -------------------------------------------------------


def test_limb_entry_per_entry_and_limb(engine) -> None:
    """Source: rule_source emg.limb.entry, CPT needle EMG guidelines (extremity = one arm incl. hand
    or one leg incl. foot), research note 2b; region and side give the limb."""
    facts = [emg(0, APB, "right"), emg(1, "tibialis_anterior", "left"), emg(2, FDI, "left")]
    assert atoms(engine, facts, "limb_entry") == [
        "limb_entry(0,right_upper)",
        "limb_entry(1,left_lower)",
        "limb_entry(2,left_upper)",
    ]


def test_non_limb_muscles_have_no_limb_entry(engine) -> None:
    """Source: rule_source emg.limb.entry (a limb is the limb muscles of one side); cranial, paraspinal,
    diaphragm and sphincter muscles are not limb muscles (docs: regions, limbs and sites)."""
    facts = [
        emg(0, "frontalis", "left"),
        *paraspinal(1, "cervical_paraspinal", "left", "c6"),
        emg(2, "diaphragm", "left"),
        emg(3, "external_anal_sphincter", "left"),
        emg(4, "trapezius", "left"),
    ]
    assert atoms(engine, facts, "limb_entry limb_muscle limb_muscle_count") == []


def test_same_muscle_twice_counts_once(engine) -> None:
    """Source: rule_source emg.limb.muscle / emg.limb.muscle_count, CMS CY1998 MPFS final rule,
    62 FR 59048 at 59090: distinct muscles per limb (docs: distinct muscles count once per side)."""
    facts = [emg(0, APB, "right"), emg(1, APB, "right"), emg(2, DEL, "right")]
    assert atoms(engine, facts, "limb_entry limb_muscle limb_muscle_count") == [
        "limb_entry(0,right_upper)",
        "limb_entry(1,right_upper)",
        "limb_entry(2,right_upper)",
        f"limb_muscle(right_upper,{APB})",
        f"limb_muscle(right_upper,{DEL})",
        "limb_muscle_count(right_upper,2)",
    ]


def test_five_entries_of_four_distinct_muscles_stay_limited(engine) -> None:
    """Source: rule_source emg.limb.muscle_count and emg.limb.limited (CMS CY1998 MPFS final rule,
    62 FR 59090: at least five muscles); a repeated muscle does not make the fifth."""
    facts = limb("right", *FOUR_MUSCLES) + [emg(4, APB, "right")]
    assert atoms(engine, facts, "limb_muscle_count limb_complete limb_limited") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,4)",
    ]


def test_same_muscle_on_both_sides_counts_in_each_limb(engine) -> None:
    """Source: rule_source emg.limb.entry and emg.limb.muscle (CMS CY1998 MPFS final rule, 62 FR 59090):
    the muscle counts once per side, in the limb of each side."""
    facts = [emg(0, APB, "left"), emg(1, APB, "right")]
    assert atoms(engine, facts, "limb_muscle limb_muscle_count") == [
        f"limb_muscle(left_upper,{APB})",
        f"limb_muscle(right_upper,{APB})",
        "limb_muscle_count(left_upper,1)",
        "limb_muscle_count(right_upper,1)",
    ]


# --- counts ------------------------------------------------------------------------------------


def test_counts_of_a_five_nerve_arm(engine) -> None:
    """Source: rule_source emg.limb.muscle_count, emg.limb.nerve_count, emg.limb.root_count
    (CMS CY1998 MPFS final rule, 62 FR 59048 at 59090: distinct muscles, named nerves, spinal levels)."""
    facts = limb("right", *FIVE_NERVES)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count") == [
        "limb_muscle_count(right_upper,5)",
        "limb_nerve_count(right_upper,5)",
        "limb_root_count(right_upper,5)",
    ]


def test_distinct_nerves_and_roots_of_a_limb(engine) -> None:
    """Source: rule_source emg.limb.nerve and emg.limb.root (CMS CY1998 MPFS final rule, 62 FR 59090:
    muscles innervated by three nerves or four spinal levels); shared nerves and roots count once."""
    facts = limb("left", APB, OPP, FDI)
    assert atoms(engine, facts, "limb_nerve limb_root limb_nerve_count limb_root_count") == [
        "limb_nerve(left_upper,median)",
        "limb_nerve(left_upper,ulnar)",
        "limb_nerve_count(left_upper,2)",
        "limb_root(left_upper,c8)",
        "limb_root(left_upper,t1)",
        "limb_root_count(left_upper,2)",
    ]


def test_counts_are_per_limb(engine) -> None:
    """Source: rule_source emg.limb.muscle_count / nerve_count / root_count (CMS CY1998 MPFS final rule,
    62 FR 59090): each limb is counted on its own."""
    facts = limb("left", APB, FDI) + limb("left", "tibialis_anterior", start=2)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count") == [
        "limb_muscle_count(left_lower,1)",
        "limb_muscle_count(left_upper,2)",
        "limb_nerve_count(left_lower,1)",
        "limb_nerve_count(left_upper,2)",
        "limb_root_count(left_lower,2)",
        "limb_root_count(left_upper,2)",
    ]


# --- complete or limited -----------------------------------------------------------------------


def test_complete_by_nerves(engine) -> None:
    """Source: rule_source emg.limb.complete_nerves, CMS CY1998 MPFS final rule, 62 FR 59048 at 59090;
    CPT 95886 descriptor: >= 5 muscles and >= 3 nerves (research note C-6); here only 3 roots."""
    facts = limb("right", *BY_NERVES)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_muscle_count(right_upper,5)",
        "limb_nerve_count(right_upper,3)",
        "limb_root_count(right_upper,3)",
    ]
    fired = rules_fired(engine, facts)
    assert "emg.limb.complete_nerves" in fired
    assert "emg.limb.complete_roots" not in fired


def test_complete_by_roots(engine) -> None:
    """Source: rule_source emg.limb.complete_roots, CMS CY1998 MPFS final rule, 62 FR 59048 at 59090;
    CPT 95886 descriptor: >= 5 muscles and >= 4 spinal levels (research note C-6); here only 2 nerves."""
    facts = limb("right", *BY_ROOTS)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_muscle_count(right_upper,5)",
        "limb_nerve_count(right_upper,2)",
        "limb_root_count(right_upper,4)",
    ]
    fired = rules_fired(engine, facts)
    assert "emg.limb.complete_roots" in fired
    assert "emg.limb.complete_nerves" not in fired


def test_five_muscles_two_nerves_three_roots_is_limited(engine) -> None:
    """Source: rule_source emg.limb.nerves_roots_short and emg.limb.limited (CMS CY1998 MPFS final rule,
    62 FR 59090; research note C-7): five muscles without 3 nerves or 4 levels are a limited limb."""
    facts = limb("right", *NEITHER)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count limb_complete limb_limited") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,5)",
        "limb_nerve_count(right_upper,2)",
        "limb_root_count(right_upper,3)",
    ]
    assert [f for f in atoms(engine, facts, "finding") if "emg.limb" in f] == [
        'finding("emg.limb.nerves_roots_short",info,right_upper)'
    ]


def test_four_muscles_with_four_nerves_are_limited(engine) -> None:
    """Source: rule_source emg.limb.limited, CPT 95885 descriptor (four or fewer muscles); CMS CY1998
    MPFS final rule, 62 FR 59090 (at least five muscles): nerves and roots do not make up for a muscle."""
    facts = limb("right", *FOUR_MUSCLES)
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_root_count limb_complete limb_limited") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,4)",
        "limb_nerve_count(right_upper,4)",
        "limb_root_count(right_upper,5)",
    ]
    assert [f for f in atoms(engine, facts, "finding") if "emg.limb" in f] == []


def test_fifth_muscle_makes_the_limb_complete(engine) -> None:
    """Source: rule_source emg.limb.complete_nerves (CMS CY1998 MPFS final rule, 62 FR 59090):
    the same four muscles plus a fifth are complete."""
    facts = limb("right", *FOUR_MUSCLES, DEL)
    assert atoms(engine, facts, "limb_complete limb_limited") == ["limb_complete(right_upper)"]


def test_complete_and_limited_limbs_side_by_side(engine) -> None:
    """Source: rule_source emg.limb.complete_nerves and emg.limb.limited (CMS CY1998 MPFS final rule,
    62 FR 59090; CPT 95885 descriptor): each limb is judged on its own."""
    facts = limb("right", *FIVE_NERVES) + limb("left", APB, start=5)
    assert atoms(engine, facts, "limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_limited(left_upper)",
    ]


# --- caller overrides ----------------------------------------------------------------------------


def test_branch_given_counts_as_its_trunk(engine) -> None:
    """Source: rule_source anatomy.nerve_given (cptkb encounter contract v1: needle_emg[].nerve, counted
    as its trunk) and emg.limb.nerve (CMS CY1998 MPFS final rule, 62 FR 59090: named trunks, not
    sub-branches): deep peroneal counts as peroneal."""
    facts = [emg(0, "tibialis_anterior", "left"), "enc_emg_nerve(0,deep_peroneal)"]
    assert atoms(engine, facts, "emg_nerve limb_nerve limb_nerve_count") == [
        "emg_nerve(0,peroneal)",
        "limb_nerve(left_lower,peroneal)",
        "limb_nerve_count(left_lower,1)",
    ]


def test_nerve_given_replaces_the_table(engine) -> None:
    """Source: rule_source anatomy.nerve_given (cptkb encounter contract v1: needle_emg[].nerve; where
    given it replaces the knowledge base's value, kb/schema.lp enc_emg_nerve)."""
    facts = [emg(0, BIC, "right"), "enc_emg_nerve(0,median)", emg(1, DEL, "right")]
    assert atoms(engine, facts, "emg_nerve limb_nerve") == [
        "emg_nerve(0,median)",
        "emg_nerve(1,axillary)",
        "limb_nerve(right_upper,axillary)",
        "limb_nerve(right_upper,median)",
    ]


def test_branches_of_one_trunk_do_not_make_a_third_nerve(engine) -> None:
    """Source: rule_source emg.limb.nerve and emg.limb.nerves_roots_short (CMS CY1998 MPFS final rule,
    62 FR 59048 at 59090: 'radial, ulnar, median, tibial, peroneal, femoral - not sub branches')."""
    facts = limb("right", "extensor_hallucis_longus", "extensor_digitorum_longus", "peroneus_longus",
                 "extensor_digitorum_brevis", "medial_gastrocnemius")
    facts += ["enc_emg_nerve(0,deep_peroneal)", "enc_emg_nerve(2,superficial_peroneal)"]
    assert atoms(engine, facts, "limb_nerve limb_nerve_count limb_root_count limb_complete limb_limited") == [
        "limb_limited(right_lower)",
        "limb_nerve(right_lower,peroneal)",
        "limb_nerve(right_lower,tibial)",
        "limb_nerve_count(right_lower,2)",
        "limb_root_count(right_lower,3)",
    ]


def test_nerve_given_can_make_the_third_nerve(engine) -> None:
    """Source: rule_source anatomy.nerve_given (contract v1 needle_emg[].nerve) and
    emg.limb.complete_nerves (CMS CY1998 MPFS final rule, 62 FR 59090): a given trunk counts."""
    facts = limb("right", *NEITHER) + ["enc_emg_nerve(1,radial)"]
    assert atoms(engine, facts, "limb_nerve limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_nerve(right_upper,median)",
        "limb_nerve(right_upper,radial)",
        "limb_nerve(right_upper,ulnar)",
    ]


def test_roots_given_replace_the_table(engine) -> None:
    """Source: rule_source anatomy.root_given (cptkb encounter contract v1: needle_emg[].roots; where
    given they replace the knowledge base's values)."""
    facts = [emg(0, DEL, "left"), "enc_emg_root(0,c7)", "enc_emg_root(0,c8)"]
    assert atoms(engine, facts, "emg_root limb_root limb_root_count") == [
        "emg_root(0,c7)",
        "emg_root(0,c8)",
        "limb_root(left_upper,c7)",
        "limb_root(left_upper,c8)",
        "limb_root_count(left_upper,2)",
    ]


def test_roots_given_can_make_the_fourth_level(engine) -> None:
    """Source: rule_source anatomy.root_given (contract v1 needle_emg[].roots) and
    emg.limb.complete_roots (CMS CY1998 MPFS final rule, 62 FR 59090: four spinal levels)."""
    facts = limb("right", *NEITHER) + ["enc_emg_root(4,c6)"]
    assert atoms(engine, facts, "limb_root_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_root_count(right_upper,4)",
    ]


def test_custom_muscle_with_region_nerve_and_roots(engine) -> None:
    """Source: rule_source anatomy.region_given, anatomy.nerve_given, anatomy.root_given (cptkb encounter
    contract v1: needle_emg[].region, .nerve, .roots describe a muscle the knowledge base does not list)."""
    facts = [
        emg(0, 'custom("x")', "left"),
        "enc_emg_region(0,upper_limb)",
        "enc_emg_nerve(0,posterior_interosseous)",
        "enc_emg_root(0,c7)",
    ]
    assert atoms(engine, facts, "emg_region limb_entry limb_muscle limb_nerve limb_root limb_muscle_count") == [
        "emg_region(0,upper_limb)",
        "limb_entry(0,left_upper)",
        'limb_muscle(left_upper,custom("x"))',
        "limb_muscle_count(left_upper,1)",
        "limb_nerve(left_upper,radial)",
        "limb_root(left_upper,c7)",
    ]


def test_custom_muscle_named_twice_counts_once(engine) -> None:
    """Source: rule_source emg.limb.muscle (CMS CY1998 MPFS final rule, 62 FR 59090: distinct muscles);
    two entries of one custom muscle on one side are one muscle."""
    facts = [
        emg(0, 'custom("x")', "right"), "enc_emg_region(0,lower_limb)", "enc_emg_root(0,l3)",
        emg(1, 'custom("x")', "right"), "enc_emg_region(1,lower_limb)", "enc_emg_root(1,l3)",
        emg(2, 'custom("y")', "right"), "enc_emg_region(2,lower_limb)", "enc_emg_root(2,l3)",
    ]
    assert atoms(engine, facts, "limb_muscle limb_muscle_count limb_nerve_count") == [
        'limb_muscle(right_lower,custom("x"))',
        'limb_muscle(right_lower,custom("y"))',
        "limb_muscle_count(right_lower,2)",
        "limb_nerve_count(right_lower,0)",
    ]


def test_custom_muscle_completes_a_limb(engine) -> None:
    """Source: rule_source emg.limb.complete_nerves (CMS CY1998 MPFS final rule, 62 FR 59090) with
    anatomy.region_given / anatomy.nerve_given (contract v1): a described muscle is a fifth muscle."""
    facts = limb("right", *FOUR_MUSCLES) + [
        emg(4, 'custom("x")', "right"), "enc_emg_region(4,upper_limb)", "enc_emg_nerve(4,axillary)",
    ]
    assert atoms(engine, facts, "limb_muscle_count limb_nerve_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_muscle_count(right_upper,5)",
        "limb_nerve_count(right_upper,5)",
    ]


# --- paraspinal groups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("muscle", "level", "group"),
    [
        ("cervical_paraspinal", "c1", "cervical"),
        ("cervical_paraspinal", "c6", "cervical"),
        ("thoracic_paraspinal", "t1", "cervical"),
        ("thoracic_paraspinal", "t2", "thoracic"),
        ("thoracic_paraspinal", "t11", "thoracic"),
        ("thoracic_paraspinal", "t12", "lumbosacral"),
        ("lumbar_paraspinal", "l1", "lumbosacral"),
        ("lumbar_paraspinal", "s1", "lumbosacral"),
        ("lumbar_paraspinal", "s2", "lumbosacral"),
    ],
)
def test_paraspinal_entry_group(engine, muscle: str, level: str, group: str) -> None:
    """Source: rule_source emg.paraspinal.group, CPT 95869 descriptor (thoracic paraspinal, excluding
    T1 or T12; research note C-10): C1-C8 and T1 cervical, T2-T11 thoracic, T12-S2 lumbosacral."""
    facts = paraspinal(0, muscle, "left", level)
    assert atoms(engine, facts, "paraspinal_entry") == [f"paraspinal_entry(0,{group})"]


def test_paraspinal_related_to_the_arm_of_its_side(engine) -> None:
    """Source: rule_source emg.paraspinal.related, Medicare LCD text quoted by radiologybillingcoding.com
    (2015): paraspinals corresponding to an extremity are included (research note C-9; same side inferred)."""
    facts = limb("right", APB) + paraspinal(1, "cervical_paraspinal", "right", "c6")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_related(1,right_upper)"
    ]


def test_paraspinal_on_the_other_side_is_unrelated(engine) -> None:
    """Source: rule_source emg.paraspinal.related (research note C-9; the same-side condition is inferred)
    and emg.paraspinal.unrelated (AAPC PM&R Coding Alert; research note C-12)."""
    facts = limb("right", APB) + paraspinal(1, "cervical_paraspinal", "left", "c6")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_unrelated(1,cervical)"
    ]


def test_lumbosacral_paraspinal_related_to_the_leg_of_its_side(engine) -> None:
    """Source: rule_source emg.paraspinal.related, Medicare LCD text quoted by radiologybillingcoding.com
    (2015), research note C-9: a lumbosacral paraspinal goes with the lower limb of its side."""
    facts = limb("left", "tibialis_anterior") + paraspinal(1, "lumbar_paraspinal", "left", "l5")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_related(1,left_lower)"
    ]


def test_lumbosacral_paraspinal_with_only_an_arm_is_unrelated(engine) -> None:
    """Source: rule_source emg.paraspinal.unrelated (AAPC PM&R Coding Alert: cervical or lumbar
    paraspinals alone; research note C-12): a lumbosacral group does not go with an upper limb."""
    facts = limb("right", APB) + paraspinal(1, "lumbar_paraspinal", "right", "l5")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_unrelated(1,lumbosacral)"
    ]


def test_t1_goes_with_the_arm_and_t12_with_the_leg(engine) -> None:
    """Source: rule_source emg.paraspinal.group (CPT 95869 excludes T1 and T12; research note C-10,
    inferred) and emg.paraspinal.related (research note C-9)."""
    facts = (
        limb("right", APB)
        + limb("right", "tibialis_anterior", start=1)
        + paraspinal(2, "thoracic_paraspinal", "right", "t1")
        + paraspinal(3, "thoracic_paraspinal", "right", "t12")
    )
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_related(2,right_upper)",
        "paraspinal_related(3,right_lower)",
    ]


def test_thoracic_group_is_neither_related_nor_unrelated(engine) -> None:
    """Source: rule_source emg.paraspinal.related / emg.paraspinal.unrelated (research note C-9, C-12):
    only cervical and lumbosacral groups belong to a limb; T2-T11 is its own site (CPT 95869)."""
    facts = limb("right", APB) + paraspinal(1, "thoracic_paraspinal", "right", "t8")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == []


def test_unrelated_paraspinals_without_any_limb(engine) -> None:
    """Source: rule_source emg.paraspinal.unrelated, AAPC PM&R Coding Alert: cervical or lumbar
    paraspinals alone are one unit of 95870 (research note C-12)."""
    facts = paraspinal(0, "cervical_paraspinal", "left", "c5") + paraspinal(1, "lumbar_paraspinal", "right", "l4")
    assert atoms(engine, facts, "paraspinal_related paraspinal_unrelated") == [
        "paraspinal_unrelated(0,cervical)",
        "paraspinal_unrelated(1,lumbosacral)",
    ]


# --- policy switch paraspinals_count_toward_five ------------------------------------------------------


def test_related_paraspinal_not_counted_by_default(engine) -> None:
    """Source: rule_source emg.paraspinal.not_counted (research note 2b: whether paraspinals count toward
    five is unresolved; default conservative): four limb muscles plus a related paraspinal stay limited."""
    facts = limb("right", *FOUR_MUSCLES) + paraspinal(4, "cervical_paraspinal", "right", "c6")
    assert atoms(engine, facts, "limb_muscle_count limb_complete limb_limited") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,4)",
    ]
    assert [f for f in atoms(engine, facts, "finding") if "paraspinal" in f] == [
        'finding("emg.paraspinal.not_counted",info,right_upper)'
    ]


def test_switch_counts_a_related_paraspinal_as_the_fifth_muscle(engine) -> None:
    """Source: rule_source emg.paraspinal.counted, policy switch paraspinals_count_toward_five (research
    note 2b: unresolved, vendor-only claim): a related paraspinal group is one muscle of its limb."""
    facts = limb("right", *FOUR_MUSCLES) + paraspinal(4, "cervical_paraspinal", "right", "c6") + [SWITCH]
    assert atoms(engine, facts, "limb_muscle limb_muscle_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        f"limb_muscle(right_upper,{APB})",
        f"limb_muscle(right_upper,{BIC})",
        f"limb_muscle(right_upper,{EDC})",
        f"limb_muscle(right_upper,{FDI})",
        "limb_muscle(right_upper,paraspinal(cervical))",
        "limb_muscle_count(right_upper,5)",
    ]
    assert [f for f in atoms(engine, facts, "finding") if "paraspinal" in f] == [
        'finding("kb.unconfirmed.paraspinal_policy",info,right_upper)'
    ]


def test_switch_counts_levels_as_roots_but_adds_no_nerve(engine) -> None:
    """Source: rule_source emg.paraspinal.counted_level, policy switch paraspinals_count_toward_five
    (research note 2b): its levels count as root levels; it adds no nerve (docs, policy switch)."""
    facts = limb("right", FDI, ADM, FCU, APB) + paraspinal(4, "cervical_paraspinal", "right", "c5") + [SWITCH]
    assert atoms(engine, facts, "limb_nerve limb_root limb_muscle_count limb_complete limb_limited") == [
        "limb_complete(right_upper)",
        "limb_muscle_count(right_upper,5)",
        "limb_nerve(right_upper,median)",
        "limb_nerve(right_upper,ulnar)",
        "limb_root(right_upper,c5)",
        "limb_root(right_upper,c7)",
        "limb_root(right_upper,c8)",
        "limb_root(right_upper,t1)",
    ]


def test_switch_counts_two_levels_of_one_group_once(engine) -> None:
    """Source: rule_source emg.paraspinal.counted, policy switch paraspinals_count_toward_five (settings.lp:
    a related paraspinal group counts as one muscle of its limb): C6 and C7 are one muscle."""
    facts = (
        limb("right", APB, FDI, EDC)
        + paraspinal(3, "cervical_paraspinal", "right", "c6")
        + paraspinal(4, "cervical_paraspinal", "right", "c7")
        + [SWITCH]
    )
    assert atoms(engine, facts, "limb_muscle_count limb_complete limb_limited") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,4)",
    ]


@pytest.mark.parametrize(
    ("limb_muscles", "side", "entries", "limb_id", "group"),
    [
        ((APB, FDI, EDC), "right", [("cervical_paraspinal", "c6"), ("thoracic_paraspinal", "t1")], "right_upper", "cervical"),
        (("tibialis_anterior", "medial_gastrocnemius", "vastus_lateralis"), "left",
         [("thoracic_paraspinal", "t12"), ("lumbar_paraspinal", "s1")], "left_lower", "lumbosacral"),
    ],
)
def test_switch_counts_one_group_of_two_paraspinal_muscles_once(
    engine, limb_muscles: tuple[str, ...], side: str, entries: list[tuple[str, str]], limb_id: str, group: str
) -> None:
    """Source: rule_source emg.paraspinal.counted, policy switch paraspinals_count_toward_five
    (kb/data/settings.lp policy_switch text; docs: 'a related paraspinal group (below) counts as one
    muscle of its limb'; groups: C1-C8 and T1 cervical, T12-S2 lumbosacral): two paraspinal muscles
    of one group are one muscle."""
    facts = limb(side, *limb_muscles) + [SWITCH]
    for n, (muscle, level) in enumerate(entries, start=len(limb_muscles)):
        facts += paraspinal(n, muscle, side, level)
    assert atoms(engine, facts, "limb_muscle_count limb_complete limb_limited") == [
        f"limb_limited({limb_id})",
        f"limb_muscle_count({limb_id},4)",
    ]
    assert [a for a in atoms(engine, facts, "limb_muscle") if "paraspinal" in a] == [
        f"limb_muscle({limb_id},paraspinal({group}))"
    ]


def test_switch_ignores_a_paraspinal_of_the_other_side(engine) -> None:
    """Source: rule_source emg.paraspinal.counted (only a related paraspinal counts) and
    emg.paraspinal.related (same side, research note C-9, inferred)."""
    facts = limb("right", *FOUR_MUSCLES) + paraspinal(4, "cervical_paraspinal", "left", "c6") + [SWITCH]
    assert atoms(engine, facts, "limb_muscle_count limb_complete limb_limited paraspinal_unrelated") == [
        "limb_limited(right_upper)",
        "limb_muscle_count(right_upper,4)",
        "paraspinal_unrelated(4,cervical)",
    ]


# --- complete limb count ---------------------------------------------------------------------------


def test_complete_limb_count_counts_complete_limbs_only(engine) -> None:
    """Source: rule_source emg.limb.complete_count, CPT 95860-95864 descriptors; AAPC PM&R Coding Alert,
    EMG on four extremities: count complete limbs only (research note C-8)."""
    facts = limb("right", *FIVE_NERVES) + limb("left", *BY_ROOTS, start=5) + limb("left", "tibialis_anterior", start=10)
    assert atoms(engine, facts, "complete_limb_count limb_complete limb_limited") == [
        "complete_limb_count(2)",
        "limb_complete(left_upper)",
        "limb_complete(right_upper)",
        "limb_limited(left_lower)",
    ]


def test_no_complete_limb_count_without_a_complete_limb(engine) -> None:
    """Source: rule_source emg.limb.complete_count (research note C-8): no complete limb, no count."""
    facts = limb("right", *FOUR_MUSCLES) + limb("left", APB, start=4)
    assert atoms(engine, facts, "complete_limb_count") == []


def test_complete_limb_count_of_four_limbs(engine) -> None:
    """Source: rule_source emg.limb.complete_count, CPT 95860-95864 descriptors (research note C-8)."""
    legs = ("tibialis_anterior", "medial_gastrocnemius", "vastus_lateralis", "gluteus_medius", "biceps_femoris_short_head")
    facts = (
        limb("right", *FIVE_NERVES)
        + limb("left", *FIVE_NERVES, start=5)
        + limb("right", *legs, start=10)
        + limb("left", *legs, start=15)
    )
    assert atoms(engine, facts, "complete_limb_count") == ["complete_limb_count(4)"]
