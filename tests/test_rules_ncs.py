"""Nerve conduction studies: counting studies and choosing the code (kb/rules/ncs.lp).

Tiny named inputs in the schema of kb/schema.lp (enc_ncs(I, Nerve, Side, Type,
Branch), enc_ncs_fwave(I)); each test asserts exactly the atoms derived for the
predicates it names (sorted lists). Expectations follow docs/rules-emg-ncs.md,
"Dates" and "Nerve conduction studies".
"""

from __future__ import annotations

import pytest
from asp import derive

Y2012 = 20120615

FIVE_NERVES = ("abductor_pollicis_brevis", "first_dorsal_interosseous", "extensor_digitorum_communis",
               "biceps_brachii", "deltoid")
COMPLETE_RIGHT_ARM = [f"enc_emg({n},{m},right)" for n, m in enumerate(FIVE_NERVES)]


def ncs(i: int, nerve: str, side: str, study: str, branch: str = "") -> str:
    return f'enc_ncs({i},{nerve},{side},{study},"{branch}")'


def atoms(engine, facts: list[str], preds: str, **kw) -> list[str]:
    return derive(engine, facts, set(preds.split()), **kw)


# Fourteen distinct studies: 7 nerves x 2 sides, all sensory.
NERVES = ("median", "ulnar", "radial", "sural", "superficial_peroneal", "saphenous", "lateral_antebrachial_cutaneous")
STUDIES = [ncs(2 * n + k, nerve, side, "sensory") for n, nerve in enumerate(NERVES) for k, side in enumerate(("left", "right"))]


# --- what one study is -------------------------------------------------------------------------


def test_study_key_without_branch_is_empty_string(engine) -> None:
    """Source: rule_source ncs.study, CPT NCS guidelines (AAPC forum 'NCS help'; solutions4mds.com 2013 CPT
    changes; KZA): one study per nerve, side, type and branch; branch "" when none (kb/schema.lp)."""
    assert atoms(engine, [ncs(0, "median", "left", "motor")], "ncs_study ncs_study_count") == [
        'ncs_study(median,left,motor,"")',
        "ncs_study_count(1)",
    ]


def test_several_sites_on_one_nerve_are_one_study(engine) -> None:
    """Source: rule_source ncs.study, CPT NCS guidelines (research note C-15): several stimulation sites of
    one nerve are one study."""
    facts = [ncs(0, "ulnar", "right", "motor"), ncs(1, "ulnar", "right", "motor"), ncs(2, "ulnar", "right", "motor")]
    assert atoms(engine, facts, "ncs_study ncs_study_count") == [
        'ncs_study(ulnar,right,motor,"")',
        "ncs_study_count(1)",
    ]


def test_side_distinguishes_studies(engine) -> None:
    """Source: rule_source ncs.study, CPT NCS guidelines (research note C-15): one study per nerve and side."""
    facts = [ncs(0, "median", "left", "sensory"), ncs(1, "median", "right", "sensory")]
    assert atoms(engine, facts, "ncs_study ncs_study_count") == [
        'ncs_study(median,left,sensory,"")',
        'ncs_study(median,right,sensory,"")',
        "ncs_study_count(2)",
    ]


def test_type_distinguishes_studies(engine) -> None:
    """Source: rule_source ncs.study, CPT NCS guidelines (research note C-15): a sensory test, a motor test
    and an H-reflex test of one nerve are three studies; a mixed study is one of its own."""
    facts = [
        ncs(0, "tibial", "left", "motor"),
        ncs(1, "tibial", "left", "h_reflex"),
        ncs(2, "tibial", "left", "mixed"),
        ncs(3, "tibial", "left", "sensory"),
    ]
    assert atoms(engine, facts, "ncs_study ncs_study_count") == [
        'ncs_study(tibial,left,h_reflex,"")',
        'ncs_study(tibial,left,mixed,"")',
        'ncs_study(tibial,left,motor,"")',
        'ncs_study(tibial,left,sensory,"")',
        "ncs_study_count(4)",
    ]


def test_branch_distinguishes_studies(engine) -> None:
    """Source: rule_source ncs.study, CPT NCS guidelines; branches listed separately in CPT Appendix J count
    separately (research note C-17)."""
    facts = [
        ncs(0, "median", "right", "sensory"),
        ncs(1, "median", "right", "sensory", "palmar"),
        ncs(2, "median", "right", "sensory", "palmar"),
        ncs(3, "median", "right", "sensory", "digit 2"),
    ]
    assert atoms(engine, facts, "ncs_study ncs_study_count") == [
        'ncs_study(median,right,sensory,"")',
        'ncs_study(median,right,sensory,"digit 2")',
        'ncs_study(median,right,sensory,"palmar")',
        "ncs_study_count(3)",
    ]


def test_fwave_adds_nothing(engine) -> None:
    """Source: rule_source ncs.fwave, CPT NCS guidelines (AAPC forum 'NCS help'): an F-wave adds nothing to
    its motor study (research note C-16)."""
    facts = [ncs(0, "median", "left", "motor"), "enc_ncs_fwave(0)", ncs(1, "median", "left", "motor")]
    assert atoms(engine, facts, "ncs_study ncs_fwave ncs_study_count code") == [
        'code("95907",1)',
        'ncs_fwave(median,left,"")',
        'ncs_study(median,left,motor,"")',
        "ncs_study_count(1)",
    ]


def test_fwave_does_not_move_the_ladder(engine) -> None:
    """Source: rule_source ncs.fwave and ncs.code.ladder (research note C-16): two motor studies, both with
    an F-wave, are two studies: 95907, not 95908."""
    facts = [ncs(0, "median", "left", "motor"), "enc_ncs_fwave(0)", ncs(1, "ulnar", "left", "motor"), "enc_ncs_fwave(1)"]
    assert atoms(engine, facts, "ncs_study_count code") == ['code("95907",1)', "ncs_study_count(2)"]


def test_no_study_no_count(engine) -> None:
    """Source: rule_source ncs.count, CPT NCS guidelines (research note C-15): the count exists for K >= 1."""
    facts = ["enc_emg(0,abductor_pollicis_brevis,left)"]
    assert atoms(engine, facts, "ncs_study ncs_study_count ncs_unit") == []


# --- the ladder from 2013 ----------------------------------------------------------------------------

LADDER = [
    (1, "95907"), (2, "95907"), (3, "95908"), (4, "95908"), (5, "95909"), (6, "95909"), (7, "95910"),
    (8, "95910"), (9, "95911"), (10, "95911"), (11, "95912"), (12, "95912"), (13, "95913"), (14, "95913"),
]


@pytest.mark.parametrize(("count", "code"), LADDER)
def test_ladder(engine, count: int, code: str) -> None:
    """Source: rule_source ncs.code.ladder, CPT 95907-95913 descriptors (solutions4mds.com 2013 CPT changes):
    1-2, 3-4, 5-6, 7-8, 9-10, 11-12, 13 or more studies; one unit (research note 2b)."""
    assert atoms(engine, STUDIES[:count], "ncs_study_count code") == [
        f'code("{code}",1)',
        f"ncs_study_count({count})",
    ]


# --- 2012 per-nerve codes -------------------------------------------------------------------------------


def test_2012_motor_without_fwave_is_95900(engine) -> None:
    """Source: rule_source ncs.code.2012_motor, CPT 95900 (retired 2013; AAN 2013 CPT changes): motor study
    without F-wave, per nerve."""
    facts = [ncs(0, "median", "left", "motor"), ncs(1, "ulnar", "left", "motor")]
    assert atoms(engine, facts, "ncs_unit code", date=Y2012) == [
        'code("95900",2)',
        'ncs_unit("95900",study(median,left,motor,""))',
        'ncs_unit("95900",study(ulnar,left,motor,""))',
    ]


def test_2012_motor_with_fwave_is_95903(engine) -> None:
    """Source: rule_source ncs.code.2012_motor_fwave, CPT 95903 (retired 2013; AAN 2013 CPT changes): motor
    study with F-wave, per nerve; the same nerve is not also 95900."""
    facts = [ncs(0, "median", "left", "motor"), "enc_ncs_fwave(0)", ncs(1, "median", "left", "motor")]
    assert atoms(engine, facts, "ncs_unit code", date=Y2012) == [
        'code("95903",1)',
        'ncs_unit("95903",study(median,left,motor,""))',
    ]


def test_2012_motor_with_and_without_fwave(engine) -> None:
    """Source: rule_sources ncs.code.2012_motor and ncs.code.2012_motor_fwave (CPT 95900/95903, AAN 2013
    CPT changes): 95903 for the nerve with an F-wave, 95900 for the other."""
    facts = [ncs(0, "peroneal", "right", "motor"), "enc_ncs_fwave(0)", ncs(1, "tibial", "right", "motor")]
    assert atoms(engine, facts, "code", date=Y2012) == ['code("95900",1)', 'code("95903",1)']


def test_2012_sensory_and_mixed_are_95904(engine) -> None:
    """Source: rule_source ncs.code.2012_sensory, CPT 95904 (retired 2013; AAN 2013 CPT changes): sensory
    study per nerve; mixed studies under 95904 (unconfirmed)."""
    facts = [ncs(0, "sural", "left", "sensory"), ncs(1, "median", "left", "mixed"), ncs(2, "sural", "left", "sensory")]
    assert atoms(engine, facts, "ncs_unit code", date=Y2012) == [
        'code("95904",2)',
        'ncs_unit("95904",study(median,left,mixed,""))',
        'ncs_unit("95904",study(sural,left,sensory,""))',
    ]
    assert atoms(engine, facts, "finding", date=Y2012) == ['finding("kb.unconfirmed.ncs_2012",info,"95904")']


def test_2012_tibial_h_reflex_is_95934(engine) -> None:
    """Source: rule_source ncs.code.2012_h_reflex_tibial, CPT 95934 (retired 2013; AAN 2013 CPT changes):
    H-reflex recorded from the calf; tibial nerve assumed (unconfirmed)."""
    facts = [ncs(0, "tibial", "left", "h_reflex"), ncs(1, "tibial", "right", "h_reflex")]
    assert atoms(engine, facts, "ncs_unit code", date=Y2012) == [
        'code("95934",2)',
        'ncs_unit("95934",study(tibial,left,h_reflex,""))',
        'ncs_unit("95934",study(tibial,right,h_reflex,""))',
    ]


def test_2012_other_h_reflex_is_95936(engine) -> None:
    """Source: rule_source ncs.code.2012_h_reflex_other, CPT 95936 (retired 2013; AAN 2013 CPT changes):
    H-reflex recorded from another muscle (unconfirmed)."""
    facts = [ncs(0, "median", "right", "h_reflex"), ncs(1, "tibial", "right", "h_reflex")]
    assert atoms(engine, facts, "ncs_unit code", date=Y2012) == [
        'code("95934",1)',
        'code("95936",1)',
        'ncs_unit("95934",study(tibial,right,h_reflex,""))',
        'ncs_unit("95936",study(median,right,h_reflex,""))',
    ]


def test_2012_uses_no_ladder_code(engine) -> None:
    """Source: rule_source ncs.code.ladder (95907-95913 from 2013-01-01, kb/data/catalog.lp) and the 2012
    per-nerve rules (AAN 2013 CPT changes): the exact 2012 code list for 14 studies."""
    assert atoms(engine, STUDIES, "code", date=Y2012) == ['code("95904",14)']


def test_2012_emg_with_only_an_h_reflex_has_no_same_day_ncs(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAPC 2012 coding update: the 2012 primaries are 95900,
    95903, 95904; research note C-2): a 2012 H-reflex code does not turn the switch (docs)."""
    facts = COMPLETE_RIGHT_ARM + [ncs(10, "tibial", "right", "h_reflex")]
    assert atoms(engine, facts, "same_day_ncs code", date=Y2012) == ['code("95860",1)', 'code("95934",1)']


def test_2012_emg_with_a_motor_study_has_same_day_ncs(engine) -> None:
    """Source: rule_source emg.switch.same_day_ncs (AAPC 2012 coding update: 95900 is a 2012 primary of the
    add-ons; research note C-2)."""
    facts = COMPLETE_RIGHT_ARM + [ncs(10, "tibial", "right", "h_reflex"), ncs(11, "median", "right", "motor")]
    assert atoms(engine, facts, "same_day_ncs code", date=Y2012) == [
        'code("95886",1)',
        'code("95900",1)',
        'code("95934",1)',
        "same_day_ncs",
    ]


def test_h_reflex_from_2013_is_a_ladder_study(engine) -> None:
    """Source: rule_source ncs.study and ncs.code.ladder (CPT NCS guidelines: an H-reflex test is a study;
    research note C-15): from 2013 it counts on the ladder and turns the switch (95907 is a primary)."""
    facts = COMPLETE_RIGHT_ARM + [ncs(10, "tibial", "right", "h_reflex")]
    assert atoms(engine, facts, "same_day_ncs code") == ['code("95886",1)', 'code("95907",1)', "same_day_ncs"]


# --- the date switches the code set ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "codes"),
    [
        (20120101, ['code("95900",1)', 'code("95903",1)', 'code("95904",1)']),
        (20121231, ['code("95900",1)', 'code("95903",1)', 'code("95904",1)']),
        (20130101, ['code("95908",1)']),
        (20261231, ['code("95908",1)']),
    ],
)
def test_date_switches_the_code_set(engine, date: int, codes: list[str]) -> None:
    """Source: rule_source catalog.in_force, kb/data/catalog.lp (CPT code set dates: AAN 2012 and 2013
    coding updates): per-nerve codes to 2012-12-31, 95907-95913 from 2013-01-01."""
    facts = [
        ncs(0, "median", "left", "motor"), "enc_ncs_fwave(0)",
        ncs(1, "ulnar", "left", "motor"),
        ncs(2, "median", "left", "sensory"),
    ]
    assert atoms(engine, facts, "code", date=date) == codes
