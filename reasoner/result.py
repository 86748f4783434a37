"""The result of an evaluation, in the contract's shape, built from the shown atoms."""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from operator import attrgetter
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from collections.abc import Mapping, Sequence

import clingo

from . import terms
from .validate import Encounter
from .vocab import FindingKey, Vocabulary, level_order

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class ShownAtom(NamedTuple):
    """A shown atom of one encounter, without the encounter number: its name and arguments."""

    name: str
    arguments: tuple[clingo.Symbol, ...]

    def __str__(self) -> str:
        if not self.arguments:
            return self.name
        return f"{self.name}({','.join(str(a) for a in self.arguments)})"


@dataclass(frozen=True)
class CodeLine:
    code: str
    units: int
    modifiers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "units": self.units, "modifiers": list(self.modifiers)}


@dataclass(frozen=True)
class Finding:
    severity: str
    rule: str
    message: str
    codes: tuple[str, ...] = ()
    atom: str = field(default="", compare=False)  # the finding/3 atom that raised it (for the trace)

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "rule": self.rule, "message": self.message, "codes": list(self.codes)}


@dataclass(frozen=True)
class ClaimReview:
    line: int
    code: str
    units: int
    modifiers: tuple[str, ...]
    status: str
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    corrected: CodeLine | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "units": self.units,
            "modifiers": list(self.modifiers),
            "status": self.status,
            "reasons": list(self.reasons),
            "rules": list(self.rules),
        }
        if self.corrected is not None:
            out["corrected"] = self.corrected.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Derivation:
    """One firing of a knowledge-base rule: what it concluded, from what."""

    rule: str
    head: clingo.Symbol
    facts: tuple[clingo.Symbol, ...]
    absent: tuple[clingo.Symbol, ...]
    comparisons: tuple[tuple[clingo.Symbol, str, clingo.Symbol], ...]
    members: tuple[clingo.Symbol, ...] = ()
    # the sort key order() works out, kept (not a field: not compared, copied or shown)
    _order: tuple[str, tuple[str, ...]] | None = field(default=None, init=False, repr=False, compare=False)
    # the derivation's rule node as the batch's explanation writes it (explain.graph._application),
    # kept with the derivation while it is kept, the same way
    _node: Any = field(default=None, init=False, repr=False, compare=False)
    # the text of its record, by which an evaluation's derivations are sorted (read_derivations),
    # kept the same way (one object per derivation, not a pair of key and derivation)
    _key: str | None = field(default=None, init=False, repr=False, compare=False)

    def order(self) -> tuple[str, tuple[str, ...]]:
        """The order in which justifications take a head's derivations: by rule id, then premises as
        text (worked out once per derivation; derivations recur from one evaluation to the next)."""
        key = self._order
        if key is None:
            key = (self.rule, tuple([str(f) for f in self.facts]))
            _SET_ORDER(self, key)
        return key

    # pickled and copied without what it keeps (a rule node holds the vocabulary it was made for)
    def __getstate__(self) -> tuple[Any, ...]:
        return (self.rule, self.head, self.facts, self.absent, self.comparisons, self.members)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for setter, value in zip(_SETTERS, (*state, None, None, None)):
            setter(self, value)


# A derivation's slots set through their descriptors (the frozen dataclass's __setattr__ refuses):
# all of them when it is unpickled, and what it keeps (its sort key, its rule node) when worked out.
_SETTERS = tuple(
    Derivation.__dict__[name].__set__
    for name in ("rule", "head", "facts", "absent", "comparisons", "members", "_order", "_node", "_key")
)
_SET_ORDER, SET_NODE = _SETTERS[6], _SETTERS[7]


class _Unfrozen:
    """A derivation's slots, in the same order, without the frozen dataclass's ``__setattr__``: an
    object of this class has a derivation's layout, so :func:`new_derivation` sets its slots as a
    plain class's ``__init__`` does (the interpreter's fastest way) and then makes it a
    :class:`Derivation` by assigning its class (Python allows it between classes of the same
    layout): twice as fast as setting the slots through their descriptors."""

    __slots__ = Derivation.__slots__

    def __init__(
        self,
        rule: str,
        head: clingo.Symbol,
        facts: tuple[clingo.Symbol, ...],
        absent: tuple[clingo.Symbol, ...],
        comparisons: tuple[tuple[clingo.Symbol, str, clingo.Symbol], ...],
        members: tuple[clingo.Symbol, ...],
        key: str | None,
    ) -> None:
        self.rule = rule
        self.head = head
        self.facts = facts
        self.absent = absent
        self.comparisons = comparisons
        self.members = members
        self._order = None
        self._node = None
        self._key = key


def new_derivation(
    rule: str,
    head: clingo.Symbol,
    facts: tuple[clingo.Symbol, ...],
    absent: tuple[clingo.Symbol, ...],
    comparisons: tuple[tuple[clingo.Symbol, str, clingo.Symbol], ...],
    members: tuple[clingo.Symbol, ...] = (),
    key: str | None = None,
) -> Derivation:
    """``Derivation(rule, head, facts, absent, comparisons, members)`` made with its slots set
    directly (four times as fast as through ``__init__``; see :class:`_Unfrozen`): the reasoner
    makes tens of them per new encounter. ``key``: the text of its record, by which
    :func:`read_derivations` sorts."""
    d = _Unfrozen(rule, head, facts, absent, comparisons, members, key)
    d.__class__ = Derivation  # type: ignore[assignment]
    return d  # type: ignore[return-value]


@dataclass
class Result:
    """The valid code set of one encounter, its findings, its claim review and its trace."""

    id: str
    date_of_service: str
    kb_version: str
    codes: list[CodeLine]
    findings: list[Finding]
    claim_review: list[ClaimReview] | None
    checks: list[dict[str, Any]] = field(default_factory=list)
    derivations: list[Derivation] = field(default_factory=list, repr=False)
    input: list[tuple[str, tuple[clingo.Symbol, ...]]] = field(default_factory=list, repr=False)

    @property
    def input_facts(self) -> list[clingo.Symbol]:
        """The encounter's input facts (kb/schema.lp), as clingo symbols."""
        return [clingo.Function(name, list(args)) for name, args in self.input]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "date_of_service": self.date_of_service,
            "kb_version": self.kb_version,
            "codes": [c.to_dict() for c in self.codes],
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.claim_review is not None:
            out["claim_review"] = [r.to_dict() for r in self.claim_review]
            out["corrected_claim"] = [line.to_dict() for line in self.corrected_claim()]
        out["checks"] = self.checks
        return out

    def corrected_claim(self) -> list[CodeLine]:
        """The claim as it should be billed: accepted lines as claimed, changed lines corrected,
        rejected and merged lines left out (codes the claim lacks are findings, not added)."""
        out: list[CodeLine] = []
        for r in self.claim_review or []:
            if r.status == "accepted":
                out.append(CodeLine(r.code, r.units, r.modifiers))
            elif r.status == "changed" and r.corrected is not None:
                out.append(r.corrected)
        return out

    def code(self, code: str) -> CodeLine | None:
        for line in self.codes:
            if line.code == code:
                return line
        return None


def _str(sym: clingo.Symbol) -> str:
    return sym.string if sym.type == clingo.SymbolType.String else str(sym)


def _sort_key(sym: clingo.Symbol) -> tuple[Any, ...]:
    if sym.type == clingo.SymbolType.Number:
        return (0, sym.number, "")
    text = _str(sym)
    return (1, *level_order(text), text)


def render_value(name: str, values: list[clingo.Symbol], vocab: Vocabulary) -> str:
    if not values:
        return "none"
    out = []
    for sym in sorted(set(values), key=_sort_key):
        if name == "date" and sym.type == clingo.SymbolType.Number:
            d = sym.number
            out.append(f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}")
        elif name in ("first_line",) and sym.type == clingo.SymbolType.Number:
            out.append(str(sym.number + 1))
        elif sym.type == clingo.SymbolType.Number:
            out.append(str(sym.number))
        else:
            out.append(vocab.label(sym))
    return ", ".join(out)


class _Args(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "none"


def render_message(template: str, args: dict[str, list[clingo.Symbol]], vocab: Vocabulary) -> str:
    return template.format_map(_Args({name: render_value(name, vals, vocab) for name, vals in args.items()}))


class RawAtom(NamedTuple):
    """A shown atom of one encounter whose arguments are kept as clingo symbol values
    (``prov`` and ``prov_member`` of the trace: most recur from one encounter to the next,
    and a recurring one is read from the derivation cache without reading its arguments)."""

    name: str
    reps: tuple[int, ...]

    @property
    def arguments(self) -> tuple[Any, ...]:
        return tuple(terms.term(r) for r in self.reps)

    def __str__(self) -> str:
        return str(ShownAtom(self.name, self.arguments))


class Derived(NamedTuple):
    """The trace of an encounter evaluated alone as the reasoner worked it out (reasoner/derive.py),
    in place of its ``prov`` and ``prov_member`` atoms: each derivation (with its sort key, the text
    of its record), and the aggregate members by rule id and head atom (symbol values)."""

    name: str
    found: list[Derivation]
    members: dict[tuple[str, int], list[int]]


_TRACE_NAMES = frozenset({"prov", "prov_member", "derivations"})

_DERIVATIONS: dict[tuple[int, ...], Derivation] = {}
_DERIVATIONS_LIMIT = 50_000


def comparison(term: terms.Term) -> tuple[terms.Term, str, terms.Term]:
    """A comparison of a derivation, (left, operator, right), from its record's cmp(left,"op",right)."""
    return term.arguments[0], term.arguments[1].string, term.arguments[2]


def derivation(reps: tuple[int, ...]) -> Derivation:
    """The derivation a ``prov`` atom's arguments record, with its sort key (read once per distinct atom)."""
    hit = _DERIVATIONS.get(reps)
    if hit is None:
        args = tuple(terms.term(r) for r in reps)
        rule, head, pos, neg, cmp = args
        comparisons = tuple([comparison(c) for c in cmp.arguments])
        text = str(ShownAtom("prov", args))
        if len(_DERIVATIONS) >= _DERIVATIONS_LIMIT:
            _DERIVATIONS.clear()
        hit = _DERIVATIONS[reps] = new_derivation(
            rule.string, head, tuple(pos.arguments), tuple(neg.arguments), comparisons, (), text
        )
    return hit


def _reps(atom: ShownAtom | RawAtom | clingo.Symbol) -> tuple[int, ...]:
    if isinstance(atom, RawAtom):
        return atom.reps
    return tuple(a._rep for a in atom.arguments)


def read_derivations(atoms: Sequence[ShownAtom | RawAtom | Derived | clingo.Symbol]) -> list[Derivation]:
    members: dict[tuple[str, int], list[int]] = defaultdict(list)
    found: list[Derivation] = []
    for a in atoms:
        name = a.name
        if name == "prov":
            found.append(derivation(_reps(a)))  # type: ignore[arg-type]
        elif name == "prov_member":
            rule, head, member = _reps(a)  # type: ignore[arg-type]
            members[(terms.term(rule).string, head)].append(member)
        elif name == "derivations":
            found.extend(a.found)  # type: ignore[union-attr]
            for key, reps in a.members.items():  # type: ignore[union-attr]
                members[key].extend(reps)
    found.sort(key=_KEY)
    out = found
    if not members:
        return out
    # the derivations of the rules that counted members (aggregate rules: a few of an evaluation's
    # derivations), found by their rule id, a string whose hash Python keeps
    counting = {rule for rule, _ in members}
    for i in [i for i, d in enumerate(out) if d.rule in counting]:
        d = out[i]
        counted = members.get((d.rule, d.head._rep))
        if counted:
            out[i] = with_members(d, counted)
    return out


def with_members(d: Derivation, counted: list[int]) -> Derivation:
    """``d`` with the aggregate members ``counted`` (symbol values, in any order, each once or more).
    A derivation with the same members recurs: built once and kept (by the members' symbol values
    in order: a tuple of numbers, which the garbage collector stops tracking)."""
    reps = tuple(sorted(set(counted)))
    cache_key = (d._key, reps)
    found = _WITH_MEMBERS.get(cache_key)
    if found is None:
        if len(_WITH_MEMBERS) >= _DERIVATIONS_LIMIT:
            _WITH_MEMBERS.clear()
        found = _WITH_MEMBERS[cache_key] = new_derivation(
            d.rule, d.head, d.facts, d.absent, d.comparisons, _members(reps), d._key
        )
    return found


def _members(reps: tuple[int, ...]) -> tuple[terms.Term, ...]:
    """The terms of the members ``reps`` (symbol values), in the order of their symbols (each
    comparison a call into clingo): kept, as the same members are counted by several rules (the
    studies of an encounter by the rule that counts them and by the one that caps them)."""
    found = _MEMBER_TERMS.get(reps)
    if found is None:
        if len(_MEMBER_TERMS) >= _DERIVATIONS_LIMIT:
            _MEMBER_TERMS.clear()
        found = _MEMBER_TERMS[reps] = tuple(sorted([terms.term(r) for r in reps]))
    return found


_MEMBER_TERMS: dict[tuple[int, ...], tuple[terms.Term, ...]] = {}


_KEY = attrgetter("_key")


_WITH_MEMBERS: dict[tuple[str, tuple[int, ...]], Derivation] = {}


def rules_behind(head: clingo.Symbol, by_head: dict[clingo.Symbol, list[Derivation]]) -> set[str]:
    """Every rule id in every derivation of ``head``, down to the encounter facts."""
    seen: set[clingo.Symbol] = set()
    rules: set[str] = set()
    stack = [head]
    while stack:
        atom = stack.pop()
        if atom in seen:
            continue
        seen.add(atom)
        for d in by_head.get(atom, []):
            rules.add(d.rule)
            stack.extend(d.facts)
            stack.extend(d.members)
    return rules


def _from_key(
    declared: FindingKey,
    key: Any,
    args: Mapping[str, list[Any]],
    codes: list[str],
    units: Mapping[str, int],
    editions: Mapping[str, Any],
) -> tuple[dict[str, list[Any]], list[str]]:
    """A finding's message arguments and codes with those that follow from its key added, as its
    data declares them (finding_key_code/1, finding_key_arg/2, finding_key_pair/3,
    finding_key_units/2, finding_edition/2; docs/knowledge-base.md, "Findings and messages")."""
    out = {name: list(values) for name, values in args.items()}
    codes = list(codes)
    if declared.code:
        codes.append(_str(key))
    for name in declared.args:
        out.setdefault(name, []).append(key)
    if declared.pairs and key.type == clingo.SymbolType.Function and not key.name and len(key.arguments) == 2:
        first, second = key.arguments
        for name_first, name_second in declared.pairs:
            out.setdefault(name_first, []).append(first)
            out.setdefault(name_second, []).append(second)
            codes += [_str(first), _str(second)]
    if declared.units and key.type == clingo.SymbolType.String and key.string in units:
        n = terms.of(clingo.Number(units[key.string]))
        for name in declared.units:
            out.setdefault(name, []).append(n)
    for table in declared.editions:
        if table in editions:
            out.setdefault("edition", []).append(editions[table])
    return out, codes


def build_result(enc: Encounter, atoms: Sequence[ShownAtom], vocab: Vocabulary) -> Result:
    codes: dict[str, int] = {}
    modifiers: dict[str, list[str]] = defaultdict(list)
    findings_raw: dict[tuple[str, clingo.Symbol], str] = {}
    finding_codes: dict[tuple[str, clingo.Symbol], list[str]] = defaultdict(list)
    finding_args: dict[tuple[str, clingo.Symbol], dict[str, list[clingo.Symbol]]] = defaultdict(lambda: defaultdict(list))
    review: dict[int, str] = {}
    reasons: dict[int, list[str]] = defaultdict(list)
    corrected: dict[int, tuple[str, int]] = {}
    corrected_mods: dict[int, list[str]] = defaultdict(list)
    reason_args: dict[int, dict[str, list[clingo.Symbol]]] = defaultdict(lambda: defaultdict(list))
    checks_raw: list[tuple[str, str, Any]] = []
    editions: dict[str, str] = {}
    for a in atoms:
        n = a.name
        if n in _TRACE_NAMES:
            continue
        args = a.arguments
        if n == "code":
            codes[args[0].string] = args[1].number
        elif n == "code_modifier":
            modifiers[args[0].string].append(args[1].string)
        elif n == "finding":
            findings_raw[(args[0].string, args[2])] = str(args[1])
        elif n == "finding_code":
            finding_codes[(args[0].string, args[1])].append(_str(args[2]))
        elif n == "finding_arg":
            finding_args[(args[0].string, args[1])][str(args[2])].append(args[3])
        elif n == "review":
            review[args[0].number] = str(args[1])
        elif n == "review_reason":
            reasons[args[0].number].append(args[1].string)
        elif n == "review_corrected":
            corrected[args[0].number] = (args[1].string, args[2].number)
        elif n == "review_corrected_modifier":
            corrected_mods[args[0].number].append(args[1].string)
        elif n == "reason_arg":
            reason_args[args[0].number][str(args[1])].append(args[2])
        elif n == "check":
            checks_raw.append((str(args[0]), str(args[1]), args[2]))
        elif n == "check_edition":
            editions[str(args[0])] = args[1].string

    def billing_key(code: str) -> tuple[int, str]:
        info = vocab.codes.get(code)
        return (1 if info is not None and info.addon else 0, code)

    code_lines = [
        CodeLine(c, codes[c], tuple(sorted(set(modifiers.get(c, []))))) for c in sorted(codes, key=billing_key)
    ]

    derivations = read_derivations(atoms)
    findings: list[Finding] = []
    edition_terms = {table: terms.of(clingo.String(e)) for table, e in editions.items()}
    for (rule, key), severity in findings_raw.items():
        template = vocab.messages.get(rule, rule)
        found_args = finding_args.get((rule, key), {})
        found_codes = finding_codes.get((rule, key), [])
        declared = vocab.finding_keys.get(rule)
        if declared is not None:
            found_args, found_codes = _from_key(declared, key, found_args, found_codes, codes, edition_terms)
        message = render_message(template, found_args, vocab)
        atom = f"finding({terms.quote(rule)},{severity},{key})"  # as clingo writes the atom
        findings.append(Finding(severity, rule, message, tuple(sorted(set(found_codes))), atom))

    findings.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.rule, f.codes, f.message))

    claim_review: list[ClaimReview] | None = None
    if enc.has_claim:
        claim_review = []
        for i, line in enumerate(enc.claim_lines):
            status = review.get(i)
            if status is None:
                from .errors import KnowledgeBaseFault

                raise KnowledgeBaseFault(f"claim line {i} of {enc.ident!r} was not reviewed")
            rules = sorted(set(reasons.get(i, [])))
            texts = [render_message(vocab.messages.get(r, r), reason_args.get(i, {}), vocab) for r in rules]
            fix = None
            if status == "changed" and i in corrected:
                code, units = corrected[i]
                fix = CodeLine(code, units, tuple(sorted(set(corrected_mods.get(i, [])))))
            claim_review.append(
                ClaimReview(i, line["code"], line["units"], tuple(line["modifiers"]), status, tuple(texts), tuple(rules), fix)
            )

    checks = []
    for table, status, subject in sorted(checks_raw, key=lambda c: (c[0], str(c[2]), c[1])):
        if subject.type == clingo.SymbolType.String:
            checked = [subject.string]
        elif subject.type == clingo.SymbolType.Function and not subject.name and subject.arguments:
            checked = [_str(x) for x in subject.arguments]
        else:
            checked = []
        checks.append({"table": table, "status": status, "codes": checked, "edition": editions.get(table)})

    return Result(
        id=enc.ident,
        date_of_service=enc.date.isoformat() if isinstance(enc.date, _dt.date) else str(enc.date),
        kb_version=vocab.kb_version,
        codes=code_lines,
        findings=findings,
        claim_review=claim_review,
        checks=checks,
        derivations=derivations,
        input=list(enc.facts),
    )
