"""The vocabulary of the knowledge base: names, codes, dates, messages, rule sources.

It is read from the knowledge base itself (kb/data/*.lp and the rule files),
by grounding the program once with no encounter, so that a new muscle, nerve,
code or rule is added as data in kb/ and nothing here changes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from collections.abc import Iterable

import clingo


@functools.lru_cache(maxsize=65536)
def normalize_name(text: str) -> str:
    """Case, spacing, underscores and hyphens do not matter in names."""
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


@dataclass(frozen=True)
class Muscle:
    ident: str
    name: str
    region: str
    nerve: str
    roots: tuple[str, ...]
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Nerve:
    ident: str
    name: str
    region: str
    trunk: str


@dataclass(frozen=True)
class RuleSource:
    rule_id: str
    document: str
    section: str
    edition: str
    evidence: str


@dataclass(frozen=True)
class CodeInfo:
    code: str
    start: int
    end: int
    description: str
    addon: bool


@dataclass
class FindingKey:
    """What follows from the key of one finding's atoms (kb/rules/findings.lp, docs/knowledge-base.md
    "Findings and messages"): whether it concerns the code that is its key, the message arguments
    that name the key, the names of a pair key's two codes, the arguments that name the units of
    the code that is the key, and the NCCI tables whose checked edition the message names."""

    code: bool = False
    args: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    editions: list[str] = field(default_factory=list)


@dataclass
class Vocabulary:
    kb_version: str = ""
    coverage: tuple[int, int] = (0, 0)
    muscles: dict[str, Muscle] = field(default_factory=dict)
    muscle_names: dict[str, str] = field(default_factory=dict)  # normalized name/alias -> id
    nerves: dict[str, Nerve] = field(default_factory=dict)
    nerve_names: dict[str, str] = field(default_factory=dict)
    codes: dict[str, CodeInfo] = field(default_factory=dict)
    rules: dict[str, RuleSource] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    switches: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name -> (description, switches on)
    data_sources: dict[str, tuple[str, str]] = field(default_factory=dict)
    evidence_labels: dict[str, str] = field(default_factory=dict)
    coverage_exempt: dict[str, str] = field(default_factory=dict)
    finding_keys: dict[str, FindingKey] = field(default_factory=dict)

    def label(self, sym: clingo.Symbol) -> str:
        key = str(sym)
        if key in self.labels:
            return self.labels[key]
        if sym.type == clingo.SymbolType.String:
            return sym.string
        if sym.type == clingo.SymbolType.Function and not sym.arguments:
            name = sym.name
            if name in self.muscles:
                return self.muscles[name].name
            if name in self.nerves:
                return self.nerves[name].name
            if _LEVEL.fullmatch(name):
                return name.upper()
            return name.replace("_", " ")
        if sym.type == clingo.SymbolType.Function and sym.name == "custom" and len(sym.arguments) == 1:
            return sym.arguments[0].string
        return key


def _s(sym: clingo.Symbol) -> str:
    return sym.string if sym.type == clingo.SymbolType.String else str(sym)


def read_vocabulary(facts: Iterable[clingo.Symbol]) -> Vocabulary:
    """Build the vocabulary from the ground facts of the knowledge base."""
    v = Vocabulary()
    muscle_rows: dict[str, tuple[str, str]] = {}
    muscle_name: dict[str, str] = {}
    aliases: list[tuple[str, str]] = []
    roots: dict[str, list[str]] = {}
    levels: dict[str, list[str]] = {}
    nerve_rows: dict[str, str] = {}
    nerve_name: dict[str, str] = {}
    nerve_aliases: list[tuple[str, str]] = []
    trunks: dict[str, str] = {}
    code_rows: dict[str, tuple[int, int]] = {}
    descs: dict[str, str] = {}
    addons: set[str] = set()
    for sym in facts:
        name, args = sym.name, sym.arguments
        if name == "kb_version" and len(args) == 1:
            v.kb_version = _s(args[0])
        elif name == "coverage" and len(args) == 2:
            v.coverage = (args[0].number, args[1].number)
        elif name == "muscle" and len(args) == 3:
            muscle_rows[str(args[0])] = (str(args[1]), str(args[2]))
        elif name == "muscle_name" and len(args) == 2:
            muscle_name[str(args[0])] = _s(args[1])
        elif name == "muscle_alias" and len(args) == 2:
            aliases.append((str(args[0]), _s(args[1])))
        elif name == "muscle_root" and len(args) == 2:
            roots.setdefault(str(args[0]), []).append(str(args[1]))
        elif name == "muscle_level" and len(args) == 2:
            levels.setdefault(str(args[0]), []).append(str(args[1]))
        elif name == "nerve" and len(args) == 2:
            nerve_rows[str(args[0])] = str(args[1])
        elif name == "nerve_name" and len(args) == 2:
            nerve_name[str(args[0])] = _s(args[1])
        elif name == "nerve_alias" and len(args) == 2:
            nerve_aliases.append((str(args[0]), _s(args[1])))
        elif name == "nerve_trunk" and len(args) == 2:
            trunks[str(args[0])] = str(args[1])
        elif name == "cpt_code" and len(args) == 3:
            code_rows[_s(args[0])] = (args[1].number, args[2].number)
        elif name == "cpt_desc" and len(args) == 2:
            descs[_s(args[0])] = _s(args[1])
        elif name == "cpt_addon" and len(args) == 1:
            addons.add(_s(args[0]))
        elif name == "rule_source" and len(args) == 5:
            rid = _s(args[0])
            v.rules[rid] = RuleSource(rid, _s(args[1]), _s(args[2]), _s(args[3]), str(args[4]))
        elif name == "message" and len(args) == 2:
            v.messages[_s(args[0])] = _s(args[1])
        elif name == "label" and len(args) == 2:
            v.labels[str(args[0])] = _s(args[1])
        elif name == "policy_switch" and len(args) == 2:
            v.switches[str(args[0])] = _s(args[1])
        elif name == "policy_profile" and len(args) == 2:
            v.profiles.setdefault(_s(args[0]), ("", []))
            v.profiles[_s(args[0])] = (_s(args[1]), v.profiles[_s(args[0])][1])
        elif name == "profile_switch" and len(args) == 2:
            v.profiles.setdefault(_s(args[0]), ("", []))[1].append(str(args[1]))
        elif name == "data_source" and len(args) == 3:
            v.data_sources[str(args[0])] = (_s(args[1]), str(args[2]))
        elif name == "evidence" and len(args) == 2:
            v.evidence_labels[str(args[0])] = _s(args[1])
        elif name == "coverage_exempt" and len(args) == 2:
            v.coverage_exempt[_s(args[0])] = _s(args[1])
        elif name == "finding_key_code" and len(args) == 1:
            v.finding_keys.setdefault(_s(args[0]), FindingKey()).code = True
        elif name == "finding_key_arg" and len(args) == 2:
            v.finding_keys.setdefault(_s(args[0]), FindingKey()).args.append(str(args[1]))
        elif name == "finding_key_pair" and len(args) == 3:
            v.finding_keys.setdefault(_s(args[0]), FindingKey()).pairs.append((str(args[1]), str(args[2])))
        elif name == "finding_key_units" and len(args) == 2:
            v.finding_keys.setdefault(_s(args[0]), FindingKey()).units.append(str(args[1]))
        elif name == "finding_edition" and len(args) == 2:
            v.finding_keys.setdefault(_s(args[0]), FindingKey()).editions.append(str(args[1]))
    for ident, (region, nerve) in muscle_rows.items():
        v.muscles[ident] = Muscle(
            ident,
            muscle_name.get(ident, ident.replace("_", " ")),
            region,
            nerve,
            tuple(sorted(roots.get(ident, []), key=level_order)),
            tuple(sorted(levels.get(ident, []), key=level_order)),
        )
        v.muscle_names[normalize_name(ident)] = ident
        v.muscle_names[normalize_name(v.muscles[ident].name)] = ident
    for ident, alias in aliases:
        v.muscle_names[normalize_name(alias)] = ident
    for ident, region in nerve_rows.items():
        v.nerves[ident] = Nerve(ident, nerve_name.get(ident, ident.replace("_", " ")), region, trunks.get(ident, ident))
        v.nerve_names[normalize_name(ident)] = ident
        v.nerve_names[normalize_name(v.nerves[ident].name)] = ident
    for ident, alias in nerve_aliases:
        v.nerve_names[normalize_name(alias)] = ident
    for code, (start, end) in code_rows.items():
        v.codes[code] = CodeInfo(code, start, end, descs.get(code, ""), code in addons)
    return v


_LEVEL_RANK = {"c": 0, "t": 1, "l": 2, "s": 3}


_LEVEL = re.compile(r"([ctls])(\d{1,2})")
_LEVEL_ORDERS: dict[str, tuple[int, int]] = {}


def level_order(level: str) -> tuple[int, int]:
    """Spinal levels in anatomical order: C1..C8, T1..T12, L1..L5, S1..S5 (other text after them)."""
    found = _LEVEL_ORDERS.get(level)
    if found is None:
        m = _LEVEL.fullmatch(level)
        found = (9, 0) if not m else (_LEVEL_RANK[m.group(1)], int(m.group(2)))
        if len(_LEVEL_ORDERS) >= 10_000:
            _LEVEL_ORDERS.clear()
        _LEVEL_ORDERS[level] = found
    return found
