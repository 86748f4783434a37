"""Validate a contract-v1 encounter and turn it into input facts.

Every check raises :class:`InvalidEncounter` naming the field (as a dotted
path), the bad value and what was expected. The facts are clingo symbols built
from the knowledge base's own identifiers; a caller's string only ever becomes
a clingo *string* term (custom muscle names, branches, specialty), never
program text.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from clingo import Function, Number, String, Symbol

from .errors import InvalidEncounter, MissingField
from .vocab import Vocabulary, level_order, normalize_name

SIDES = ("left", "right")
SIDES_BILATERAL = ("left", "right", "bilateral")
BILATERAL_REGIONS = ("cranial", "larynx")
STUDIES = ("motor", "sensory", "mixed", "h_reflex")
TESTS = ("repetitive_stimulation", "single_fiber_emg", "electrode_array_ncs")
LIMBS = ("left_upper", "right_upper", "left_lower", "right_lower")
ROLES = ("physician", "nurse_practitioner", "physician_assistant", "technician")
PAYER_KINDS = ("medicare", "medicaid", "commercial", "other")
CUSTOM_REGIONS = ("upper_limb", "lower_limb")
ROOT_LEVELS = tuple(
    [f"c{i}" for i in range(1, 9)]
    + [f"t{i}" for i in range(1, 13)]
    + [f"l{i}" for i in range(1, 6)]
    + [f"s{i}" for i in range(1, 6)]
)

# Modifiers a claim line may carry: CPT and HCPCS level II modifiers in common
# use on professional claims (payment, NCCI-associated, anatomic, liability).
MODIFIERS = frozenset(
    ["22", "23", "24", "25", "26", "27", "32", "33", "47", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "62", "63", "66", "73", "74", "76", "77", "78", "79", "80", "81", "82", "90", "91", "92", "93", "95", "96", "97", "99", "TC", "XE", "XP", "XS", "XU", "LT", "RT", "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "GA", "GX", "GY", "GZ", "KX", "GT", "GQ", "GC", "GE", "CR", "Q5", "Q6", "AI", "SA", "SB"]
)

ICD10_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
POS_SHAPE = re.compile(r"^[0-9]{2}$")

TOP_FIELDS = (
    "id",
    "date_of_service",
    "place_of_service",
    "payer",
    "provider",
    "diagnoses",
    "needle_emg",
    "nerve_conduction",
    "other_tests",
    "claim",
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# Numbers and strings recur from encounter to encounter; making a clingo symbol is a call into the library.
_num = functools.lru_cache(maxsize=4096)(Number)
_string = functools.lru_cache(maxsize=65536)(String)


@functools.lru_cache(maxsize=256)
def _one_of(options: tuple[str, ...] | list[str]) -> str:
    return "one of " + ", ".join(f'"{o}"' for o in options)


@dataclass
class Encounter:
    """A validated encounter: the caller's id and date, and its input facts."""

    ident: str
    date: _dt.date
    place_of_service: str
    facts: list[tuple[str, tuple[Symbol, ...]]] = field(default_factory=list)  # (predicate, arguments)
    keys: frozenset[str] = frozenset()  # the knowledge-base identifiers the facts name
    has_claim: bool = False
    claim_lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def date_int(self) -> int:
        return self.date.year * 10000 + self.date.month * 100 + self.date.day


class _Validator:
    def __init__(self, vocab: Vocabulary) -> None:
        self.v = vocab
        self.facts: list[tuple[str, tuple[Symbol, ...]]] = []
        self.keys: set[str] = set()

    def const(self, name: str) -> Symbol:
        """A knowledge-base identifier as a constant, remembered as a key of the encounter."""
        self.keys.add(name)
        return _const(name)

    def add(self, name: str, *args: Symbol) -> None:
        self.facts.append((name, args))

    # --- generic helpers -------------------------------------------------------

    @staticmethod
    def obj(value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise InvalidEncounter(path or "encounter", value, "a JSON object", problem="not an object:")
        return value

    @staticmethod
    def fields(value: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                raise InvalidEncounter(where, key, "a field among " + ", ".join(allowed), problem="unknown field")

    @staticmethod
    def string(value: Any, path: str, expected: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidEncounter(path, value, expected)
        return value.strip()

    def enum(self, value: Any, path: str, options: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in options:
            raise InvalidEncounter(path, value, _one_of(options), problem="unknown value")
        return value

    @staticmethod
    def array(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidEncounter(path, value, "a JSON array", problem="not an array:")
        return value

    def required(self, entry: Mapping[str, Any], key: str, path: str, expected: str) -> Any:
        if key not in entry or entry[key] is None:
            raise MissingField(f"{path}.{key}" if path else key, expected)
        return entry[key]

    def level(self, value: Any, path: str, allowed: tuple[str, ...]) -> str:
        shown = ", ".join(lv.upper() for lv in allowed)
        if not isinstance(value, str):
            raise InvalidEncounter(path, value, f"a spinal level ({shown})")
        lv = value.strip().lower()
        if lv not in allowed:
            raise InvalidEncounter(path, value, f"a spinal level among {shown}", problem="unknown level")
        return lv

    # --- the encounter -----------------------------------------------------------

    def encounter(self, raw: Any) -> Encounter:
        enc = self.obj(raw, "")
        self.fields(enc, "", TOP_FIELDS)
        ident_raw = self.required(enc, "id", "", "a non-empty string identifier")
        if not isinstance(ident_raw, str) or not ident_raw.strip():
            raise InvalidEncounter("id", ident_raw, "a non-empty string identifier")
        date = self.date(self.required(enc, "date_of_service", "", "an ISO date YYYY-MM-DD"))
        pos = enc.get("place_of_service", "11")
        if not isinstance(pos, str) or not POS_SHAPE.match(pos):
            raise InvalidEncounter(
                "place_of_service", pos, 'a two-digit CMS place-of-service code as a string, such as "11" or "22"'
            )
        self.add("enc_date", _num(date.year * 10000 + date.month * 100 + date.day))
        self.add("enc_pos", _string(pos))
        self.payer(enc.get("payer"))
        self.provider(enc.get("provider"))
        self.diagnoses(enc.get("diagnoses", []))
        for i, entry in enumerate(self.array(enc.get("needle_emg", []), "needle_emg")):
            self.muscle_entry(entry, i)
        for i, entry in enumerate(self.array(enc.get("nerve_conduction", []), "nerve_conduction")):
            self.ncs_entry(entry, i)
        for i, entry in enumerate(self.array(enc.get("other_tests", []), "other_tests")):
            self.other_test(entry, i)
        lines: list[dict[str, Any]] = []
        has_claim = "claim" in enc and enc["claim"] is not None
        if has_claim:
            self.add("enc_claim_given")
            for i, entry in enumerate(self.array(enc["claim"], "claim")):
                lines.append(self.claim_line(entry, i, date))
        return Encounter(ident_raw, date, pos, self.facts, frozenset(self.keys), has_claim, lines)

    def date(self, value: Any) -> _dt.date:
        expected = "a real calendar date written YYYY-MM-DD"
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise InvalidEncounter("date_of_service", value, expected, problem="not a date:")
        try:
            date = _dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidEncounter("date_of_service", value, expected, problem="not a date:") from None
        start, end = self.v.coverage
        as_int = date.year * 10000 + date.month * 100 + date.day
        if not start <= as_int <= end:
            raise InvalidEncounter(
                "date_of_service",
                value,
                f"a date of service from {_iso(start)} to {_iso(end)}, the range knowledge base {self.v.kb_version} covers",
                problem="date outside the covered range:",
            )
        return date

    def payer(self, value: Any) -> None:
        if value is None:
            return
        payer = self.obj(value, "payer")
        self.fields(payer, "payer", ("kind", "mac"))
        if "kind" in payer:
            self.add("enc_payer", _const(self.enum(payer["kind"], "payer.kind", PAYER_KINDS)))
        if "mac" in payer and payer["mac"] is not None:
            self.add("enc_mac", _string(self.string(payer["mac"], "payer.mac", "the Medicare contractor's name")))

    def provider(self, value: Any) -> None:
        if value is None:
            return
        prov = self.obj(value, "provider")
        self.fields(prov, "provider", ("role", "specialty"))
        if "role" in prov:
            self.add("enc_role", _const(self.enum(prov["role"], "provider.role", ROLES)))
        if "specialty" in prov and prov["specialty"] is not None:
            spec = self.string(prov["specialty"], "provider.specialty", 'a specialty word such as "neurology"')
            self.add("enc_specialty", _string(spec.lower()))

    def diagnoses(self, value: Any) -> None:
        for i, code in enumerate(self.array(value, "diagnoses")):
            path = f"diagnoses[{i}]"
            if not isinstance(code, str) or not ICD10_SHAPE.match(code.strip().upper()):
                raise InvalidEncounter(
                    path, code, 'an ICD-10-CM code: a letter, two characters, then up to four, such as "G56.01"'
                )
            plain = code.strip().upper().replace(".", "")
            self.add("enc_diagnosis", _string(plain))
            for n in range(3, len(plain) + 1):
                self.add("enc_diagnosis_part", _string(plain), _string(plain[:n]))

    def muscle_entry(self, raw: Any, i: int) -> None:
        path = f"needle_emg[{i}]"
        entry = self.obj(raw, path)
        self.fields(entry, path, ("muscle", "side", "level", "nerve", "roots", "region"))
        name = self.required(entry, "muscle", path, "a muscle name or abbreviation")
        if not isinstance(name, str) or not name.strip():
            raise InvalidEncounter(f"{path}.muscle", name, "a muscle name or abbreviation")
        ident = self.v.muscle_names.get(normalize_name(name))
        custom = ident is None
        region_given = entry.get("region")
        if region_given is not None:
            region_given = self.enum(region_given, f"{path}.region", CUSTOM_REGIONS)
        if custom:
            if region_given is None:
                if "nerve" in entry or "roots" in entry:
                    raise MissingField(
                        f"{path}.region",
                        f'"upper_limb" or "lower_limb" for muscle {_q(name)}, which the knowledge base does not list',
                    )
                raise InvalidEncounter(
                    f"{path}.muscle",
                    name,
                    "a muscle name or abbreviation the knowledge base knows (such as \"APB\" or \"tibialis anterior\"),"
                    " or region with nerve or roots to describe another muscle",
                    problem="unknown muscle",
                )
            if "nerve" not in entry and "roots" not in entry:
                raise MissingField(
                    f"{path}.nerve", f"nerve or roots for muscle {_q(name)}, which the knowledge base does not list"
                )
            region = region_given
            muscle_sym = Function("custom", [_string(normalize_name(name))])
        else:
            muscle = self.v.muscles[ident]
            region = muscle.region
            if region_given is not None and region_given != region:
                raise InvalidEncounter(
                    f"{path}.region",
                    region_given,
                    f'"{region}" or no region: the knowledge base places {muscle.name} in {region}',
                    problem="region contradicts the knowledge base:",
                )
            muscle_sym = self.const(ident)
        side_options = SIDES_BILATERAL if region in BILATERAL_REGIONS else SIDES
        side_raw = self.required(entry, "side", path, _one_of(side_options))
        side = self.enum(side_raw, f"{path}.side", side_options)
        self.add("enc_emg", _num(i), muscle_sym, _const(side))
        if region_given is not None and custom:
            self.add("enc_emg_region", _num(i), _const(region))
        levels = () if custom else self.v.muscles[ident].levels
        if levels:
            shown = ", ".join(lv.upper() for lv in levels)
            lv_raw = self.required(entry, "level", path, f"the paraspinal level, one of {shown}")
            lv = self.level(lv_raw, f"{path}.level", levels)
            self.add("enc_emg_level", _num(i), _const(lv))
        elif entry.get("level") is not None:
            raise InvalidEncounter(
                f"{path}.level", entry["level"], "no level: only paraspinal muscles take one", problem="unexpected level"
            )
        if entry.get("nerve") is not None:
            nerve = self.nerve(entry["nerve"], f"{path}.nerve")
            self.add("enc_emg_nerve", _num(i), self.const(nerve))
        if entry.get("roots") is not None:
            roots = self.array(entry["roots"], f"{path}.roots")
            if not roots:
                raise InvalidEncounter(f"{path}.roots", roots, "at least one root level such as \"C7\"")
            for j, root in enumerate(roots):
                lv = self.level(root, f"{path}.roots[{j}]", ROOT_LEVELS)
                self.add("enc_emg_root", _num(i), _const(lv))

    def nerve(self, value: Any, path: str) -> str:
        if isinstance(value, str):
            ident = self.v.nerve_names.get(normalize_name(value))
            if ident is not None:
                return ident
        raise InvalidEncounter(
            path, value, 'a nerve name the knowledge base knows, such as "median" or "sural"', problem="unknown nerve"
        )

    def ncs_entry(self, raw: Any, i: int) -> None:
        path = f"nerve_conduction[{i}]"
        entry = self.obj(raw, path)
        self.fields(entry, path, ("nerve", "side", "study", "f_wave", "branch"))
        nerve = self.nerve(self.required(entry, "nerve", path, "a nerve name"), f"{path}.nerve")
        side = self.enum(self.required(entry, "side", path, _one_of(SIDES)), f"{path}.side", SIDES)
        study = self.enum(self.required(entry, "study", path, _one_of(STUDIES)), f"{path}.study", STUDIES)
        branch = ""
        if entry.get("branch") is not None:
            branch = normalize_name(self.string(entry["branch"], f"{path}.branch", "a branch name as a string"))
        self.add("enc_ncs", _num(i), self.const(nerve), _const(side), _const(study), _string(branch))
        fwave = entry.get("f_wave", False)
        if not isinstance(fwave, bool):
            raise InvalidEncounter(f"{path}.f_wave", fwave, "true or false")
        if fwave:
            if study != "motor":
                raise InvalidEncounter(
                    f"{path}.f_wave", fwave, f'f_wave only on a motor study (this study is "{study}")',
                    problem="F-wave on a non-motor study:",
                )
            self.add("enc_ncs_fwave", _num(i))

    def other_test(self, raw: Any, i: int) -> None:
        path = f"other_tests[{i}]"
        entry = self.obj(raw, path)
        test = self.enum(self.required(entry, "test", path, _one_of(TESTS)), f"{path}.test", TESTS)
        if test == "repetitive_stimulation":
            self.fields(entry, path, ("test", "nerve", "side"))
            nerve = self.nerve(self.required(entry, "nerve", path, "a nerve name"), f"{path}.nerve")
            side = self.enum(self.required(entry, "side", path, _one_of(SIDES)), f"{path}.side", SIDES)
            self.add("enc_rns", _num(i), self.const(nerve), _const(side))
        elif test == "single_fiber_emg":
            self.fields(entry, path, ("test", "muscle", "side"))
            name = self.required(entry, "muscle", path, "a muscle name or abbreviation")
            ident = self.v.muscle_names.get(normalize_name(name)) if isinstance(name, str) else None
            if ident is None:
                raise InvalidEncounter(
                    f"{path}.muscle", name, "a muscle name or abbreviation the knowledge base knows",
                    problem="unknown muscle",
                )
            region = self.v.muscles[ident].region
            options = SIDES_BILATERAL if region in BILATERAL_REGIONS else SIDES
            side = self.enum(self.required(entry, "side", path, _one_of(options)), f"{path}.side", options)
            self.add("enc_sfemg", _num(i), self.const(ident), _const(side))
        else:
            self.fields(entry, path, ("test", "limb"))
            limb = self.enum(self.required(entry, "limb", path, _one_of(LIMBS)), f"{path}.limb", LIMBS)
            self.add("enc_array", _num(i), _const(limb))

    def claim_line(self, raw: Any, i: int, date: _dt.date) -> dict[str, Any]:
        path = f"claim[{i}]"
        entry = self.obj(raw, path)
        self.fields(entry, path, ("code", "units", "modifiers"))
        code = self.required(entry, "code", path, "a CPT or HCPCS code as a string")
        if not isinstance(code, str) or code.strip().upper() not in self.v.codes:
            known = ", ".join(sorted(self.v.codes))
            raise InvalidEncounter(f"{path}.code", code, f"a code the knowledge base knows: {known}", problem="unknown code")
        code = code.strip().upper()
        units = entry.get("units", 1)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1 or units > 999:
            raise InvalidEncounter(f"{path}.units", units, "a whole number of units from 1 to 999")
        mods_raw = self.array(entry.get("modifiers", []), f"{path}.modifiers")
        mods: list[str] = []
        for j, mod in enumerate(mods_raw):
            if not isinstance(mod, str) or mod.strip().upper() not in MODIFIERS:
                raise InvalidEncounter(
                    f"{path}.modifiers[{j}]", mod,
                    'a two-character CPT or HCPCS modifier such as "26", "TC", "59", "XS", "LT" or "RT"',
                    problem="unknown modifier",
                )
            mods.append(mod.strip().upper())
        self.add("enc_claim", _num(i), _string(code), _num(units))
        for mod in mods:
            self.add("enc_claim_mod", _num(i), _string(mod))
        return {"code": code, "units": units, "modifiers": mods}


_CONSTANTS: dict[str, Symbol] = {}


def _const(name: str) -> Symbol:
    """The constant ``name`` (knowledge-base identifiers only, never a caller's string)."""
    sym = _CONSTANTS.get(name)
    if sym is None:
        sym = _CONSTANTS[name] = Function(name)
    return sym


def _iso(d: int) -> str:
    return f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"


def _q(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def validate(raw: Any, vocab: Vocabulary, switches: Mapping[str, bool] | None = None) -> Encounter:
    """Check ``raw`` against contract v1 and return it as input facts."""
    v = _Validator(vocab)
    enc = v.encounter(raw)
    for name, on in sorted((switches or {}).items()):
        if name not in vocab.switches:
            raise InvalidEncounter(
                "switches", name, _one_of(tuple(sorted(vocab.switches))), problem="unknown policy switch"
            )
        if on:
            enc.facts.append(("switch", (_const(name),)))
    return enc


__all__ = ["Encounter", "validate", "level_order"]
