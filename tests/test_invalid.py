"""Bad input: each kind of error names the field, the bad value and what was expected.

Source: cptkb encounter contract v1 (exit status 2 and its message), docs/contract.md.
"""

from __future__ import annotations

import copy
from typing import Any
from collections.abc import Callable

import pytest

from cptkb import InvalidEncounter, MissingField
from cptkb.reasoner.engine import Engine

BASE: dict[str, Any] = {
    "id": "bad-1",
    "date_of_service": "2024-05-01",
    "needle_emg": [{"muscle": "APB", "side": "left"}],
    "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor"}],
    "other_tests": [{"test": "repetitive_stimulation", "nerve": "ulnar", "side": "left"}],
    "claim": [{"code": "95907", "units": 1, "modifiers": []}],
}


def with_(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(enc: dict[str, Any]) -> None:
        target: Any = enc
        keys = path.replace("]", "").replace("[", ".").split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is DELETE:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return apply


DELETE = object()

# (what is wrong, change, field, message must contain)
TABLE = [
    ("missing id", with_("id", DELETE), "id", ["missing required field", "non-empty string"]),
    ("empty id", with_("id", ""), "id", ['""', "non-empty string"]),
    ("numeric id", with_("id", 7), "id", ["7", "non-empty string"]),
    ("missing date", with_("date_of_service", DELETE), "date_of_service", ["missing required field", "YYYY-MM-DD"]),
    ("not a calendar date", with_("date_of_service", "2025-02-30"), "date_of_service", ['"2025-02-30"', "real calendar date"]),
    ("words for a date", with_("date_of_service", "yesterday"), "date_of_service", ['"yesterday"', "YYYY-MM-DD"]),
    ("US date order", with_("date_of_service", "05/01/2024"), "date_of_service", ['"05/01/2024"']),
    ("before coverage", with_("date_of_service", "2011-12-31"), "date_of_service", ['"2011-12-31"', "2012-01-01 to 2026-12-31"]),
    ("after coverage", with_("date_of_service", "2027-01-01"), "date_of_service", ['"2027-01-01"', "2012-01-01 to 2026-12-31"]),
    ("one-digit place of service", with_("place_of_service", "1"), "place_of_service", ['"1"', "two-digit"]),
    ("numeric place of service", with_("place_of_service", 11), "place_of_service", ["11", "as a string"]),
    ("unknown top-level field", with_("needle_emgs", []), "needle_emgs", ["unknown field", "needle_emg"]),
    ("payer kind", with_("payer", {"kind": "cash"}), "payer.kind", ['"cash"', '"medicare"']),
    ("provider role", with_("provider", {"role": "surgeon"}), "provider.role", ['"surgeon"', '"technician"']),
    ("ICD-10-CM shape", with_("diagnoses", ["G56.01", "ZZZ"]), "diagnoses[1]", ['"ZZZ"', "ICD-10-CM"]),
    ("diagnoses not a list", with_("diagnoses", "G56.01"), "diagnoses", ["JSON array"]),
    ("unknown muscle (program text)", with_("needle_emg.0.muscle", "x). bad :- y("), "needle_emg[0].muscle", ['"x). bad :- y("', "unknown muscle"]),
    ("muscle side", with_("needle_emg.0.side", "up"), "needle_emg[0].side", ['"up"', '"left"']),
    ("bilateral limb muscle", with_("needle_emg.0.side", "bilateral"), "needle_emg[0].side", ['"bilateral"']),
    ("missing side", with_("needle_emg.0.side", DELETE), "needle_emg[0].side", ["missing required field"]),
    ("paraspinal without level", with_("needle_emg.0", {"muscle": "cervical paraspinal", "side": "left"}), "needle_emg[0].level", ["missing required field", "C1"]),
    ("level of another region", with_("needle_emg.0", {"muscle": "cervical paraspinal", "side": "left", "level": "L4"}), "needle_emg[0].level", ['"L4"', "C8"]),
    ("level on a limb muscle", with_("needle_emg.0.level", "C6"), "needle_emg[0].level", ['"C6"', "only paraspinal"]),
    ("unknown nerve override", with_("needle_emg.0.nerve", "nervus"), "needle_emg[0].nerve", ['"nervus"', "unknown nerve"]),
    ("bad root", with_("needle_emg.0.roots", ["C9"]), "needle_emg[0].roots[0]", ['"C9"']),
    ("custom muscle without region", with_("needle_emg.0", {"muscle": "musculus novus", "side": "left", "nerve": "median"}), "needle_emg[0].region", ["missing required field", "upper_limb"]),
    ("custom muscle without nerve or roots", with_("needle_emg.0", {"muscle": "musculus novus", "side": "left", "region": "upper_limb"}), "needle_emg[0].nerve", ["missing required field"]),
    ("region contradicting the table", with_("needle_emg.0.region", "lower_limb"), "needle_emg[0].region", ['"lower_limb"', "upper_limb"]),
    ("unknown nerve", with_("nerve_conduction.0.nerve", "vagus-x"), "nerve_conduction[0].nerve", ['"vagus-x"']),
    ("unknown study", with_("nerve_conduction.0.study", "fast"), "nerve_conduction[0].study", ['"fast"', '"h_reflex"']),
    ("F-wave on a sensory study", with_("nerve_conduction.0", {"nerve": "median", "side": "left", "study": "sensory", "f_wave": True}), "nerve_conduction[0].f_wave", ["motor"]),
    ("F-wave not a boolean", with_("nerve_conduction.0.f_wave", "yes"), "nerve_conduction[0].f_wave", ['"yes"', "true or false"]),
    ("unknown test", with_("other_tests.0.test", "magnetic"), "other_tests[0].test", ['"magnetic"', '"repetitive_stimulation"']),
    ("unknown limb", with_("other_tests.0", {"test": "electrode_array_ncs", "limb": "middle"}), "other_tests[0].limb", ['"middle"', '"left_upper"']),
    ("unknown code", with_("claim.0.code", "99999"), "claim[0].code", ['"99999"', "95907"]),
    ("zero units", with_("claim.0.units", 0), "claim[0].units", ["0", "1 to 999"]),
    ("unknown modifier", with_("claim.0.modifiers", ["Q9Q"]), "claim[0].modifiers[0]", ['"Q9Q"', '"26"']),
    ("entry not an object", with_("needle_emg.0", "APB"), "needle_emg[0]", ["JSON object"]),
]


@pytest.mark.parametrize("what,change,field,contains", TABLE, ids=[t[0] for t in TABLE])
def test_bad_input_names_field_value_and_expectation(
    engine: Engine, what: str, change: Callable[[dict[str, Any]], None], field: str, contains: list[str]
) -> None:
    enc = copy.deepcopy(BASE)
    change(enc)
    with pytest.raises(InvalidEncounter) as info:
        engine.evaluate(enc)
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(field + ":")
    assert "expected" in message
    for text in contains:
        assert text in message, message


def test_missing_field_is_an_invalid_encounter(engine: Engine) -> None:
    """A missing field raises MissingField, a kind of InvalidEncounter, with value None."""
    enc = copy.deepcopy(BASE)
    del enc["id"]
    with pytest.raises(MissingField) as info:
        engine.evaluate(enc)
    assert info.value.value is None and info.value.field == "id"


def test_not_an_object(engine: Engine) -> None:
    """The encounter itself must be a JSON object."""
    with pytest.raises(InvalidEncounter) as info:
        engine.evaluate(["not", "an", "object"])
    assert info.value.field == "encounter"


def test_unknown_switch(engine: Engine) -> None:
    """A policy switch the knowledge base does not declare is refused by name."""
    with pytest.raises(InvalidEncounter) as info:
        engine.evaluate(BASE, {"count_everything": True})
    assert '"count_everything"' in str(info.value)
    assert "paraspinals_count_toward_five" in str(info.value)


def test_program_text_in_strings_stays_a_string(engine: Engine) -> None:
    """Encounter strings never become program text: a custom muscle or a branch named like
    clingo code is a string term, and the result is as for any other name."""
    evil = "x). code(\"95864\",9). y("
    enc = {
        "id": "inject",
        "date_of_service": "2024-05-01",
        "needle_emg": [{"muscle": evil, "side": "left", "region": "upper_limb", "nerve": "median"}],
        "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor", "branch": evil}],
    }
    result = engine.evaluate(enc)
    assert [(c.code, c.units) for c in result.codes] == [("95907", 1), ("95885", 1)]
