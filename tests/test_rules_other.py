"""Other electrodiagnostic tests: electrode-array NCS (95905), repetitive stimulation (95937),
single-fiber EMG (95872) (kb/rules/other_tests.lp).

Tiny named inputs in the schema of kb/schema.lp (enc_array(I, Limb),
enc_rns(I, Nerve, Side), enc_sfemg(I, Muscle, Side)); each test asserts exactly the
atoms derived for the predicates it names (sorted lists). Expectations follow
docs/rules-emg-ncs.md, "Other tests".
"""

from __future__ import annotations

from asp import derive

NCS = ['enc_ncs(90,median,right,motor,"")']


def atoms(engine, facts: list[str], preds: str, **kw) -> list[str]:
    return derive(engine, facts, set(preds.split()), **kw)


# --- 95905 electrode-array NCS --------------------------------------------------------------------


def test_array_one_limb(engine) -> None:
    """Source: rule_source other.code.array, CPT 95905 descriptor (AAN 2009 news): one unit of 95905 per
    limb when no conventional NCS is billed (research note C-19)."""
    assert atoms(engine, ["enc_array(0,left_lower)"], "other_unit code finding") == [
        'code("95905",1)',
        'other_unit("95905",limb(left_lower))',
    ]


def test_array_per_distinct_limb(engine) -> None:
    """Source: rule_source other.array_limb and other.code.array, CPT 95905 descriptor ('each limb'; research
    note C-19): two entries of one limb are one unit."""
    facts = ["enc_array(0,left_lower)", "enc_array(1,left_lower)", "enc_array(2,right_lower)", "enc_array(3,left_upper)"]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95905",3)',
        'other_unit("95905",limb(left_lower))',
        'other_unit("95905",limb(left_upper))',
        'other_unit("95905",limb(right_lower))',
    ]


def test_array_left_out_with_conventional_ncs(engine) -> None:
    """Source: rule_source ncs.array_with_conventional, LCD text quoted by radiologybillingcoding.com (2015):
    95905 cannot be billed with any other nerve conduction code (research note C-19; leaving it out is
    inferred); rule_source other.conventional_ncs (CPT 95907-95913 guideline, research note C-18)."""
    facts = ["enc_array(0,left_lower)", "enc_array(1,right_upper)"] + NCS
    assert atoms(engine, facts, "other_unit conventional_ncs code finding") == [
        'code("95907",1)',
        "conventional_ncs",
        'finding("ncs.array_with_conventional",warning,left_lower)',
        'finding("ncs.array_with_conventional",warning,right_upper)',
    ]


def test_array_left_out_with_2012_per_nerve_codes(engine) -> None:
    """Source: rule_source ncs.array_with_conventional (LCD text quoted by radiologybillingcoding.com 2015;
    research note C-19): 95905 is not reported with the 2012 per-nerve codes either (docs, Other tests)."""
    facts = ["enc_array(0,left_lower)", 'enc_ncs(1,sural,left,sensory,"")']
    assert atoms(engine, facts, "code finding", date=20120615) == [
        'code("95904",1)',
        'finding("ncs.array_with_conventional",warning,left_lower)',
    ]


def test_array_kept_with_emg_alone(engine) -> None:
    """Source: rule_source other.code.array (CPT 95905 descriptor, research note C-19) and
    emg.switch.same_day_ncs (95905 is not a primary of the add-ons): EMG without NCS keeps 95905."""
    facts = ["enc_array(0,left_lower)", "enc_emg(1,tibialis_anterior,left)"]
    assert atoms(engine, facts, "same_day_ncs code") == ['code("95870",1)', 'code("95905",1)']


# --- 95937 repetitive stimulation ----------------------------------------------------------------------


def test_rns_one_nerve_twice_is_one_unit(engine) -> None:
    """Source: rule_source other.code.repetitive_stimulation, AAPC Neurology Coding Alert, Crack NMJ testing
    challenges: one unit of 95937 per distinct nerve and side (research note C-20)."""
    facts = ["enc_rns(0,ulnar,right)", "enc_rns(1,ulnar,right)"]
    assert atoms(engine, facts, "other_unit code") == ['code("95937",1)', 'other_unit("95937",nerve(ulnar,right))']


def test_rns_per_nerve_and_side(engine) -> None:
    """Source: rule_source other.code.repetitive_stimulation, AAPC Neurology Coding Alert, Crack NMJ testing
    challenges: right and left are two units; two nerves are two units (research note C-20)."""
    facts = ["enc_rns(0,ulnar,right)", "enc_rns(1,ulnar,left)", "enc_rns(2,spinal_accessory,right)", "enc_rns(3,ulnar,left)"]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95937",3)',
        'other_unit("95937",nerve(spinal_accessory,right))',
        'other_unit("95937",nerve(ulnar,left))',
        'other_unit("95937",nerve(ulnar,right))',
    ]


def test_rns_with_conventional_ncs_is_kept(engine) -> None:
    """Source: rule_source other.code.repetitive_stimulation (research note C-20): 95937 is billed beside
    95907-95913 and does not turn the same-day EMG switch (docs)."""
    facts = ["enc_rns(0,ulnar,right)"] + NCS
    assert atoms(engine, facts, "code") == ['code("95907",1)', 'code("95937",1)']


# --- 95872 single-fiber EMG ----------------------------------------------------------------------------


def test_sfemg_one_muscle_twice_is_one_unit(engine) -> None:
    """Source: rule_source other.code.single_fiber, CPT 95872 descriptor: one unit per muscle studied
    (research note C-21)."""
    facts = ["enc_sfemg(0,extensor_digitorum_communis,left)", "enc_sfemg(1,extensor_digitorum_communis,left)"]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95872",1)',
        'other_unit("95872",muscle(extensor_digitorum_communis,left))',
    ]


def test_sfemg_per_muscle_and_side(engine) -> None:
    """Source: rule_source other.code.single_fiber, CPT 95872 descriptor: one unit per muscle studied, per
    side (research note C-21)."""
    facts = [
        "enc_sfemg(0,extensor_digitorum_communis,left)",
        "enc_sfemg(1,extensor_digitorum_communis,right)",
        "enc_sfemg(2,frontalis,left)",
    ]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95872",3)',
        'other_unit("95872",muscle(extensor_digitorum_communis,left))',
        'other_unit("95872",muscle(extensor_digitorum_communis,right))',
        'other_unit("95872",muscle(frontalis,left))',
    ]


def test_sfemg_bilateral_entry_adds_no_third_side(engine) -> None:
    """Source: rule_source other.code.single_fiber, CPT 95872 descriptor: one unit per muscle studied
    (research note C-21); docs: one unit per distinct muscle and side; a bilateral entry is both sides
    (the rule emg.site.cranial reads it so through side_covers/2)."""
    facts = ["enc_sfemg(0,frontalis,left)", "enc_sfemg(1,frontalis,right)", "enc_sfemg(2,frontalis,bilateral)"]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95872",2)',
        'other_unit("95872",muscle(frontalis,left))',
        'other_unit("95872",muscle(frontalis,right))',
    ]


def test_sfemg_bilateral_entry_is_both_sides(engine) -> None:
    """Source: rule_source other.code.single_fiber, CPT 95872 descriptor: one unit per muscle studied
    (research note C-21); docs: one unit per distinct muscle and side, a bilateral entry being both sides."""
    facts = ["enc_sfemg(0,thyroarytenoid,bilateral)"]
    assert atoms(engine, facts, "other_unit code") == [
        'code("95872",2)',
        'other_unit("95872",muscle(thyroarytenoid,left))',
        'other_unit("95872",muscle(thyroarytenoid,right))',
    ]


def test_sfemg_is_not_needle_emg(engine) -> None:
    """Source: rule_source other.code.single_fiber (CPT 95872 descriptor, research note C-21): single-fiber
    EMG makes no limb and no needle EMG code."""
    facts = ["enc_sfemg(0,extensor_digitorum_communis,left)"] + NCS
    assert atoms(engine, facts, "limb_entry code") == ['code("95872",1)', 'code("95907",1)']
