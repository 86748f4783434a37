"""Load the knowledge base and add provenance to its rules.

A rule that derives a code, a finding or an intermediate conclusion names
itself with a marker literal in its body::

    limb_complete(L) :- rule("emg.limb.complete_nerves"),
                        limb_muscle_count(L, M), M >= 5,
                        limb_nerve_count(L, N), N >= 3.

At load time the marker is taken out of the rule and a twin rule with the same
body is added that records the derivation::

    _prov_limb_complete_1("emg.limb.complete_nerves", limb_complete(L),
         (limb_muscle_count(L,M), limb_nerve_count(L,N)),   % facts used
         (),                                                 % atoms that were absent
         (cmp(M,">=",5), cmp(N,">=",3))) :- <same body>.

(one record predicate per head predicate, read back as ``prov`` atoms) and,
for every aggregate in the body, a rule per element that records which
atoms the aggregate counted::

    prov_member("emg.limb.muscle_count", limb_muscle_count(L,N), limb_muscle(L,M))
        :- _prov_limb_muscle_count_2("emg.limb.muscle_count", limb_muscle_count(L,N), ...),
           limb_muscle(L,M).

(read off the rule's own record, so the body is not joined again per element).

Without the trace the rules are grounded as written. With it, each marked
rule is replaced by its twins, and its head is projected from the records
by one rule per head predicate::

    limb_complete(X0) :- _prov_limb_complete_1(_, limb_complete(X0), _, _, _).

so that each body is joined once. In a batch the record twin records only
the values of the rule's variables, which the reasoner rebuilds the record
from (:func:`_binding_twins`); a rule whose derivations depend on one input
fact at a time is grounded as written in a batch too, and the reasoner gives
its derivations per fact (:func:`_fact_of`, reasoner/byfact.py). The rules
stay as written, the trace cannot
drift from them, and a new rule family needs no Python.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, overload
from collections.abc import Iterable, Sequence

import clingo
from clingo import ast

from .derive import _vars as pattern_variables, compile_values
from .guards import OPERATORS, GuardSet, derive as derive_guards
from .messages import _supported as supported_term, finding_of as message_of, is_check, portable_rule

MARKER = "rule"
PROV_PREFIX = "_prov_"
# rule selections kept (LoadedProgram.select); the table is emptied when full
SELECTION_CACHE_LIMIT = 2000


def prov_name(sig: tuple[str, int]) -> str:
    """The predicate of the derivation records of the head predicate ``sig``: one per head
    predicate, so that a head defined from its records keeps the program stratified."""
    return f"{PROV_PREFIX}{sig[0]}_{sig[1]}"


def is_prov_name(name: str) -> bool:
    return name.startswith(PROV_PREFIX)


class KnowledgeBaseError(Exception):
    """The knowledge base itself is malformed (a defect of kb/, not of the input)."""


@dataclass(frozen=True)
class MarkedRule:
    """A rule that carries a marker: its id and where it stands."""

    rule_id: str
    head: str
    file: str
    line: int
    signature: tuple[str, int]


def _loc(node: ast.AST) -> tuple[str, int]:
    loc = node.location
    return str(loc.begin.filename), int(loc.begin.line)


def _term_of_atom(lit: ast.AST) -> ast.AST:
    """The term that stands for a symbolic atom (a function term)."""
    return lit.atom.symbol


def _tuple(location: ast.Location, items: Sequence[ast.AST]) -> ast.AST:
    # A one-element tuple needs the trailing comma form: clingo writes it as (x,)
    return ast.Function(location, "", list(items), 0)


def _string(location: ast.Location, text: str) -> ast.AST:
    return ast.SymbolicTerm(location, clingo.String(text))


def _comparison_terms(location: ast.Location, comp: ast.AST) -> list[ast.AST]:
    out = []
    left = comp.term
    for guard in comp.guards:
        out.append(
            ast.Function(
                location,
                "cmp",
                [left, _string(location, OPERATORS[guard.comparison]), guard.term],
                0,
            )
        )
        left = guard.term
    return out


class _AnonNamer(ast.Transformer):
    """Gives each anonymous variable a fresh name of its own (none of ``taken``)."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.count = 0
        self.taken = taken

    def visit_Variable(self, var: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        if var.name != "_":
            return var
        self.count += 1
        while f"Anon__{self.count}" in self.taken:
            self.count += 1
        return ast.Variable(var.location, f"Anon__{self.count}")


class _AnyConstant(ast.Transformer):
    """Writes each anonymous variable as the constant any."""

    def visit_Variable(self, var: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        if var.name != "_":
            return var
        return ast.SymbolicTerm(var.location, clingo.Function("any"))


class _Renamer(ast.Transformer):
    """Renames variables by a mapping (the local variables of an aggregate element)."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Variable(self, var: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        if var.name in self.mapping:
            return ast.Variable(var.location, self.mapping[var.name])
        return var


def _variables(node: ast.AST) -> set[str]:
    found: set[str] = set()

    class _V(ast.Transformer):
        def visit_Variable(self, var: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
            found.add(var.name)
            return var

    _V()(node)
    return found


def _reserved_name(stm: ast.AST) -> str | None:
    """A predicate or constant name of a statement that begins with PROV_PREFIX (the trace's own
    predicates, and the tags that end a batch's records: a knowledge base may not use them)."""
    if stm.ast_type == ast.ASTType.ShowSignature:
        return stm.name if stm.name.startswith(PROV_PREFIX) else None
    found: list[str] = []

    def symbol(sym: clingo.Symbol) -> None:
        if sym.type == clingo.SymbolType.Function:
            if sym.name.startswith(PROV_PREFIX):
                found.append(sym.name)
            for arg in sym.arguments:
                symbol(arg)

    class _Names(ast.Transformer):
        def visit_Function(self, fn: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
            if fn.name.startswith(PROV_PREFIX):
                found.append(fn.name)
            return fn.update(**self.visit_children(fn))

        def visit_SymbolicTerm(self, term: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
            symbol(term.symbol)
            return term

    _Names()(stm)
    return found[0] if found else None


class _Provenance:
    """Collects the transformed statements of the knowledge base."""

    def __init__(self) -> None:
        self.statements: list[ast.AST] = []
        self.marked: list[MarkedRule] = []
        # provenance twins, by the index in ``statements`` of the rule they shadow
        self.twins: dict[int, list[ast.AST]] = {}

    def add(self, stm: ast.AST) -> None:
        if stm.ast_type == ast.ASTType.Comment:
            return
        reserved = _reserved_name(stm)
        if reserved is not None:
            file, line = _loc(stm)
            raise KnowledgeBaseError(
                f"{file}:{line}: the name {reserved} begins with {PROV_PREFIX}, which is reserved for the trace's own atoms"
            )
        if stm.ast_type != ast.ASTType.Rule:
            self.statements.append(stm)
            return
        body_now = stm.body
        if not body_now:
            self.statements.append(stm)
            return
        ids = [
            lit
            for lit in body_now
            if str(lit).startswith(MARKER + "(")
            and lit.ast_type == ast.ASTType.Literal
            and lit.atom.ast_type == ast.ASTType.SymbolicAtom
            and lit.atom.symbol.ast_type == ast.ASTType.Function
            and lit.atom.symbol.name == MARKER
            and len(lit.atom.symbol.arguments) == 1
        ]
        if not ids:
            self.statements.append(stm)
            return
        file, line = _loc(stm)
        if len(ids) > 1:
            raise KnowledgeBaseError(f"{file}:{line}: a rule carries more than one rule(...) marker")
        marker = ids[0]
        id_term = marker.atom.symbol.arguments[0]
        if id_term.ast_type != ast.ASTType.SymbolicTerm or id_term.symbol.type != clingo.SymbolType.String:
            raise KnowledgeBaseError(f"{file}:{line}: the rule id must be a string, as in rule(\"emg.limb.complete\")")
        if marker.sign != ast.Sign.NoSign:
            raise KnowledgeBaseError(f"{file}:{line}: the rule(...) marker cannot be negated")
        head = stm.head
        if head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
            raise KnowledgeBaseError(f"{file}:{line}: a marked rule must have one plain atom as its head")
        marker_text = str(marker)
        body = [lit for lit in stm.body if str(lit) != marker_text]
        loc = stm.location
        rule_id = id_term.symbol.string
        sig = _signature(head.atom.symbol)
        assert sig is not None
        self.marked.append(MarkedRule(rule_id, str(head.atom.symbol), file, line, sig))
        self.statements.append(ast.Rule(loc, head, body))
        twins = self.twins.setdefault(len(self.statements) - 1, [])

        # The twin rule names every anonymous variable of a positive literal, so
        # that the atom it matched can be recorded; in a negative literal "_"
        # is recorded as the constant any ("no enc_emg_region(3, any)").
        namer = _AnonNamer()
        twin_body: list[ast.AST] = []
        pos: list[ast.AST] = []
        neg: list[ast.AST] = []
        cmp: list[ast.AST] = []
        aggregates: list[ast.AST] = []
        for lit in body:
            if lit.ast_type != ast.ASTType.Literal:
                raise KnowledgeBaseError(f"{file}:{line}: conditional literals are not supported in marked rules")
            atom = lit.atom
            if atom.ast_type == ast.ASTType.SymbolicAtom:
                if lit.sign == ast.Sign.NoSign:
                    named = namer(lit)
                    twin_body.append(named)
                    pos.append(_term_of_atom(named))
                else:
                    twin_body.append(lit)
                    neg.append(_AnyConstant()(_term_of_atom(lit)))
            elif atom.ast_type == ast.ASTType.Comparison:
                twin_body.append(lit)
                cmp.extend(_comparison_terms(loc, atom))
            elif atom.ast_type == ast.ASTType.BodyAggregate:
                twin_body.append(lit)
                aggregates.append(atom)
            else:
                raise KnowledgeBaseError(f"{file}:{line}: unsupported literal in a marked rule: {lit}")
        body = twin_body
        prov_head = ast.Literal(
            loc,
            ast.Sign.NoSign,
            ast.SymbolicAtom(
                ast.Function(
                    loc,
                    prov_name(sig),
                    [id_term, head.atom.symbol, _tuple(loc, pos), _tuple(loc, neg), _tuple(loc, cmp)],
                    0,
                )
            ),
        )
        twins.append(ast.Rule(loc, prov_head, body))

        outer = _variables(head)
        for lit in body:
            if lit.atom.ast_type != ast.ASTType.BodyAggregate:
                outer |= _variables(lit)
        for agg in aggregates:
            if agg.function not in (ast.AggregateFunction.Count, ast.AggregateFunction.Sum, ast.AggregateFunction.SumPlus):
                continue
            for element in agg.elements:
                # an anonymous variable of the condition gets a name, so that the
                # member is recorded in full (enc_rns(Anon__2__m,ulnar,right))
                element = namer(element)
                local = _variables(element) - outer
                others = [a for a in aggregates if a is not agg]
                if any(local & _variables(o) for o in others):
                    raise KnowledgeBaseError(
                        f"{file}:{line}: two aggregates share local variables {sorted(local)}; rename them"
                    )
                rename = _Renamer({name: f"{name}__m" for name in local})
                for cond in element.condition:
                    if cond.ast_type != ast.ASTType.Literal or cond.atom.ast_type != ast.ASTType.SymbolicAtom:
                        continue
                    if cond.sign != ast.Sign.NoSign:
                        continue
                    outside = [rename(c) for c in element.condition]
                    member_head = ast.Literal(
                        loc,
                        ast.Sign.NoSign,
                        ast.SymbolicAtom(
                            ast.Function(loc, "prov_member", [id_term, head.atom.symbol, rename(cond).atom.symbol], 0)
                        ),
                    )
                    # The member is read off its derivation record: the record
                    # binds every variable the element shares with the rule, so
                    # the body is not joined, nor the aggregate evaluated, again.
                    twins.append(ast.Rule(loc, member_head, [prov_head, *outside]))


def record_name(number: int) -> str:
    """The predicate of a batch's records of the values of the ``number``-th marked rule's variables
    (see :func:`_binding_twins`); unlike :func:`prov_name`'s, it never ends in a digit."""
    return f"{PROV_PREFIX}{number}b"


# The last argument of each batch record and each of its aggregate members: a constant naming what
# the atom is (the record's own predicate; MEMBER_TAG), so that the reasoner tells it from its
# arguments alone, without asking clingo for the atom's name (Engine._batch_atoms).
MEMBER_TAG = f"{PROV_PREFIX}member"


def _tag(location: ast.Location, name: str) -> ast.AST:
    return ast.SymbolicTerm(location, clingo.Function(name))


def _binding_twins(name: str, rule: ast.AST, twins: list[ast.AST]) -> tuple[list[ast.AST], tuple[str, ...]] | None:
    """The twins of a marked rule for a batch, recording the values of the variables instead of
    the record itself, and the variables in the order recorded; None when the record holds a term
    the reasoner cannot build from those values (arithmetic, for instance).

    The record twin ``_prov_p_1("id", p(X), (q(X,Y),), (), ()) :- body.`` becomes
    ``_prov_7b(X,Y,_prov_7b) :- body.``, each member twin reads ``_prov_7b(X,Y,_prov_7b)`` in
    place of the record (and ends its member with the constant ``_prov_member``), and
    ``p(X) :- _prov_7b(X,Y,_prov_7b).`` projects the head. The record is a function of the
    values, so the reasoner rebuilds it (Engine._batch_atoms): grounding builds and outputs
    short atoms instead of nested records, about a quarter less work with the trace. The last
    argument (MEMBER_TAG and the record's own name) tells the reasoner what the atom is.
    """
    record = twins[0]
    term = record.head.atom.symbol
    if not supported_term(term):
        return None
    slots = tuple(sorted(_variables(record.head)))
    loc = record.location
    bound = ast.Literal(
        loc,
        ast.Sign.NoSign,
        ast.SymbolicAtom(ast.Function(loc, name, [*(ast.Variable(loc, v) for v in slots), _tag(loc, name)], 0)),
    )
    rules = [ast.Rule(loc, bound, record.body)]
    for member in twins[1:]:
        head = member.head.atom.symbol
        tagged = ast.Function(loc, head.name, [*head.arguments, _tag(loc, MEMBER_TAG)], 0)
        rules.append(ast.Rule(loc, ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(tagged)), [bound, *member.body[1:]]))
    rules.append(ast.Rule(loc, rule.head, [bound]))
    return rules, slots


# A negated input literal of a fact rule (see :func:`_fact_of`): its predicate's name and arity, and
# per argument ("v", i) the fact's argument i, ("c", text) a constant, or None any value (``_``).
Blocker = tuple[str, int, tuple[tuple[str, Any] | None, ...]]


def _fact_of(
    twins: list[ast.AST], dynamic: set[Signature], defined: set[Signature]
) -> tuple[Signature, tuple[Blocker, ...]] | None:
    """Whether a marked rule's derivations depend on the encounter through one input fact at a
    time: the signature of that fact and the negated input literals that block it, or None.

    A rule qualifies when its twins are one record twin (no aggregate) whose body holds one positive
    input literal (its arguments variables and constants), reference literals and comparisons, and
    negated input literals whose variables the positive one binds (or ``_``); no rule or fact of the
    knowledge base may define an input predicate it reads. ``in_force(C) :- cpt_code(C,F,T);
    enc_date(D); F <= D; D <= T.`` depends on the date alone; ``emg_root(I,R) :- enc_emg(I,M,_);
    muscle_root(M,R); not enc_emg_root(I,_).`` on one muscle entry, blocked when the encounter gives
    roots for that entry. The derivations through one fact are then the same in every encounter
    that has the fact and no fact that blocks it: a traced batch grounds such a rule as written, and
    the reasoner works out its derivations for each fact and keeps them (reasoner/byfact.py).
    """
    if len(twins) != 1:
        return None
    fact: ast.AST | None = None
    negated: list[ast.AST] = []
    for lit in twins[0].body:
        if lit.ast_type != ast.ASTType.Literal:
            return None
        kind = lit.atom.ast_type
        if kind == ast.ASTType.Comparison:
            continue
        if kind != ast.ASTType.SymbolicAtom:
            return None
        sig = _signature(lit.atom.symbol)
        if sig is None:
            return None
        if sig not in dynamic:
            continue  # reference data
        if not _is_input(sig) or sig in defined:
            return None
        if lit.sign == ast.Sign.NoSign and fact is None:
            fact = lit
        elif lit.sign == ast.Sign.Negation:
            negated.append(lit)
        else:
            return None
    if fact is None:
        return None
    sig = _signature(fact.atom.symbol)
    assert sig is not None

    def arguments(lit: ast.AST) -> list[ast.AST]:
        term = lit.atom.symbol
        return list(term.arguments) if term.ast_type == ast.ASTType.Function else []

    at: dict[str, int] = {}
    for i, arg in enumerate(arguments(fact)):
        if arg.ast_type == ast.ASTType.Variable:
            if arg.name != "_":
                at.setdefault(arg.name, i)
        elif arg.ast_type != ast.ASTType.SymbolicTerm:
            return None  # the fact's arguments are matched as written: variables and constants only
    blockers: list[Blocker] = []
    for lit in negated:
        name, arity = _signature(lit.atom.symbol)  # type: ignore[misc]
        if (name, arity) == sig:
            return None
        spec: list[tuple[str, Any] | None] = []
        for arg in arguments(lit):
            if arg.ast_type == ast.ASTType.Variable:
                if arg.name == "_":
                    spec.append(None)
                elif arg.name in at:
                    spec.append(("v", at[arg.name]))
                else:
                    return None  # bound by reference data: not decided by the fact alone
            elif arg.ast_type == ast.ASTType.SymbolicTerm:
                spec.append(("c", str(arg.symbol)))
            else:
                return None
        blockers.append((name, arity, tuple(spec)))
    return sig, tuple(blockers)


ENCOUNTER_VAR = "K__enc"
ENCOUNTER = "_encounter"
INPUT_PREFIX = "enc_"
INPUT_NAMES = ("switch",)

Signature = tuple[str, int]

# The shape of an atom's arguments, for telling whether a rule head can derive
# an atom a body literal needs: per argument a constant ("c", text), a function
# or tuple ("f", name, arguments) or None (a variable or anything computed:
# it can match anything).
Pattern = tuple[Any, ...] | None
Shape = tuple[Signature, Pattern]  # a predicate with the shape of its arguments
_NeedsIndex = tuple[dict[Signature, tuple[Shape, ...]], dict[Shape, tuple[int, ...]], tuple[int, ...]]


def _signature(atom_term: ast.AST) -> Signature | None:
    if atom_term.ast_type == ast.ASTType.Function:
        return (atom_term.name, len(atom_term.arguments))
    if atom_term.ast_type == ast.ASTType.SymbolicTerm and atom_term.symbol.type == clingo.SymbolType.Function:
        return (atom_term.symbol.name, len(atom_term.symbol.arguments))
    return None


def _atoms(node: ast.AST) -> list[Signature]:
    """Signatures of every symbolic atom in a statement (heads, bodies, aggregates)."""
    found: list[Signature] = []

    class _A(ast.Transformer):
        def visit_SymbolicAtom(self, atom: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
            sig = _signature(atom.symbol)
            if sig is not None:
                found.append(sig)
            return atom

    _A()(node)
    return found


def _head_atoms(rule: ast.AST) -> list[Signature]:
    return _atoms(rule.head)


def _body_atoms(rule: ast.AST) -> list[Signature]:
    out: list[Signature] = []
    for lit in rule.body:
        out.extend(_atoms(lit))
    return out


class _AddEncounter(ast.Transformer):
    """Adds the encounter variable as the first argument of every encounter-dependent atom."""

    def __init__(self, dynamic: set[Signature]) -> None:
        self.dynamic = dynamic

    def visit_SymbolicAtom(self, atom: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        term = atom.symbol
        sig = _signature(term)
        if sig is None or sig not in self.dynamic:
            return atom
        loc = term.location
        var = ast.Variable(loc, ENCOUNTER_VAR)
        if term.ast_type == ast.ASTType.Function:
            return ast.SymbolicAtom(ast.Function(loc, term.name, [var, *term.arguments], term.external))
        return ast.SymbolicAtom(ast.Function(loc, sig[0], [var], 0))


@dataclass(frozen=True)
class CountedMember:
    """The members of an aggregate a traced batch need not ground (see :func:`_counted_member`): the
    atoms of ``member`` that hold and match ``pattern`` with the counting rule's head. The reasoner
    reads them off the derivations of ``member`` when the batch gives every one of them
    (:meth:`LoadedProgram.select` decides per batch; engine._count_members)."""

    rule: str  # the counting rule's id
    head: Signature  # its head's predicate
    member: Signature
    # per argument of the member: None for any value (a variable of the aggregate's own), ("h", j)
    # the head's argument j, ("c", text) a constant, ("f", name, patterns) a function of such
    pattern: tuple[Any, ...]


@dataclass(frozen=True)
class Counting:
    """The aggregate members a traced batch does not ground (LoadedProgram.select): the members each
    rule counts, by marked rule (an index into LoadedProgram.rules), and the chosen rules that
    define the members' predicates."""

    rules: tuple[tuple[int, tuple[CountedMember, ...]], ...] = ()
    producers: frozenset[int] = frozenset()


def _counted_member(twin: ast.AST) -> CountedMember | None:
    """The member a member twin (``prov_member(id, head, member) :- record, condition.``, see
    :class:`_Provenance`) records, when the reasoner can tell it from the member atom alone: the
    aggregate element's condition is that one atom, whose variables are the element's own or
    arguments of the rule's head (each once). ``limb_muscle_count(L,K) :- ..., K = #count{ M :
    limb_muscle(L,M) }`` counts the atoms ``limb_muscle(L,_)`` that hold, L read from the head."""
    if len(twin.body) != 2:
        return None
    rule_id, head, member = twin.head.atom.symbol.arguments
    if head.ast_type != ast.ASTType.Function or member.ast_type != ast.ASTType.Function or member.external:
        return None
    head_vars = {a.name: j for j, a in enumerate(head.arguments) if a.ast_type == ast.ASTType.Variable}
    outer = _variables(twin.body[0])  # the rule's variables, which its record binds
    seen: set[str] = set()

    def pattern(term: ast.AST) -> Any:
        kind = term.ast_type
        if kind == ast.ASTType.Variable:
            if term.name not in outer:  # the element's own
                if term.name in seen:
                    raise ValueError(term.name)
                seen.add(term.name)
                return None
            if term.name in head_vars and term.name not in seen:
                seen.add(term.name)
                return ("h", head_vars[term.name])
            raise ValueError(term.name)
        if kind == ast.ASTType.SymbolicTerm:
            return ("c", str(term.symbol))
        if kind == ast.ASTType.Function and not term.external and term.name:
            if not term.arguments:
                return ("c", term.name)
            return ("f", term.name, tuple(pattern(a) for a in term.arguments))
        raise ValueError(str(term))

    try:
        patterns = tuple(pattern(a) for a in member.arguments)
    except ValueError:
        return None
    return CountedMember(
        rule_id.symbol.string,
        (head.name, len(head.arguments)),
        (member.name, len(member.arguments)),
        patterns,
    )


@dataclass(frozen=True)
class EncounterRule:
    """A rule that depends on the encounter, as program text, with what it needs to fire."""

    text: str
    twins: str
    head: tuple[Signature, ...]
    reads: tuple[Signature, ...] = ()  # reference predicates it (or its twins) reads
    uses: tuple[Signature, ...] = ()  # encounter predicates anywhere in its body (or its twins')
    twin_heads: tuple[Signature, ...] = ()  # what its twins define (its _prov_ record predicate, prov_member/3)
    # The encounter atoms of its positive body, and its head, each as a signature
    # with the patterns of its arguments: finding("emg.x", info, L) is
    # (("finding", 3), (("c", '"emg.x"'), ("c", "info"), None)).
    needs: tuple[Shape, ...] = ()
    head_keys: tuple[Shape, ...] = ()
    # The rule and its twins as written, without the encounter argument: for
    # grounding one encounter alone (each encounter argument costs the
    # grounder about a fifth of its work).
    single: str = ""
    single_twins: str = ""
    # A marked rule: with the trace its derivation record stands in for it,
    # and its head is projected from the records (LoadedProgram.projections).
    marked: bool = False
    # Conditions on the input facts it cannot fire without (indexes into
    # LoadedProgram.guards; see reasoner/guards.py).
    guards: tuple[int, ...] = ()
    # A message rule (reasoner/messages.py): the finding whose message or
    # codes it fills. An encounter evaluated alone does not ground it; the
    # reasoner evaluates it when the finding holds.
    message: str = ""
    # A check rule (kb_fault/2, reasoner/messages.py): an encounter evaluated
    # alone does not ground it either; the reasoner evaluates it.
    check: bool = False
    # The rule as plain data (messages.portable_rule) for the reasoner's bottom-up
    # evaluation of an encounter alone (reasoner/bottomup.py); None when it is
    # outside the fragment the reasoner evaluates.
    portable: tuple[Any, ...] | None = None
    # A marked rule whose batch twins record the values of its variables (_binding_twins):
    # their record predicate and the variables in the order recorded; None when its batch
    # twins record the derivation itself (or it is not marked).
    record: tuple[str, tuple[str, ...]] | None = None
    # A marked rule whose derivations depend on the encounter through one input fact at a time
    # (_fact_of): that fact's signature and the negated input literals that block it. A traced
    # batch grounds it as written and the reasoner gives its derivations (reasoner/byfact.py);
    # load_program leaves it None when the reasoner cannot evaluate the rule's twin.
    fact: tuple[Signature, tuple[Blocker, ...]] | None = None
    # A marked rule of an entry group (_entry_groups): its derivations depend on the encounter
    # through the input facts of one entry. A traced batch grounds it as written and the reasoner
    # gives its derivations (reasoner/byfact.py).
    entry: bool = False
    # A marked rule's aggregate members the reasoner can work out (_counted_member), and the batch
    # twins without theirs: a traced batch that gives every derivation of the members' predicates
    # grounds these twins instead (LoadedProgram.select).
    counted: tuple[CountedMember, ...] = ()
    lean_twins: str = ""
    lean_members: bool = False  # whether other member twins are left among them


@dataclass(frozen=True)
class EntryGroup:
    """Marked rules whose derivations depend on the encounter through the input facts of one entry
    at a time (see :func:`_entry_groups`): the rules in the order they run, and the input predicates
    they read, each with the argument position that holds the entry."""

    rules: tuple[int, ...]
    reads: tuple[tuple[Signature, int], ...]  # a predicate may be read at two positions (p(X,_), p(_,X))
    # each rule's slot of the entry's variable in its record (a fact read at two positions also
    # holds another entry's value: the reasoner keeps only the derivations of the entry's own)
    slots: tuple[int, ...] = ()
    # whether the rules only join on the entry's value (see _placeable): their derivations through
    # one entry's facts are then those through the same facts of another entry, the value replaced
    placeable: bool = False


@dataclass(frozen=True)
class StaticStatement:
    """A statement of reference data or a rule over it, with the predicates it defines and reads."""

    text: str
    heads: tuple[Signature, ...]
    reads: tuple[Signature, ...]


@dataclass
class LoadedProgram:
    """The knowledge base, parsed and transformed once, kept as program text.

    ``static`` holds the reference data and the rules that do not depend on an
    encounter. Every rule that does depend on one is rewritten so that each
    encounter atom carries the encounter number as its first argument and the
    body binds K (through an encounter literal, or ``_encounter(K)`` where it has
    none): one grounding then evaluates a whole
    batch of encounters side by side without mixing them. For a batch only the
    rules that can fire are grounded (:meth:`select`), their provenance twins
    only when a trace is asked for, and the rows of keyed tables only for the
    keys the batch names (:meth:`keyed_keys`, :meth:`reference_atoms`). ``documentation`` holds what no
    rule reads (names, labels, messages, sources): it is read once, for the
    vocabulary.
    """

    static: list[StaticStatement]
    documentation: str
    declarations: str
    rules: list[EncounterRule]
    marked: list[MarkedRule]
    dynamic: set[Signature]
    keyed: dict[str, str] = field(default_factory=dict)
    keyed_tables: set[Signature] = field(default_factory=set)
    key_links: dict[str, frozenset[str]] = field(default_factory=dict)
    shown: tuple[Signature, ...] = ()
    provided: tuple[Signature, ...] = ()  # predicates given by facts (inputs, reference data)
    # head predicate of marked rules -> the rule deriving it from its records (batch, single)
    projections: dict[Signature, tuple[str, str]] = field(default_factory=dict)
    guards: GuardSet = field(default_factory=GuardSet)
    # Whether every encounter rule (twins and projections included) is a normal
    # rule with one atom as its head and the rules are stratified (see
    # _is_stratified): then the grounder alone settles every atom, and an
    # evaluation reads the answer from it without solving.
    stratified: bool = False
    # Each encounter rule's text (with and without the encounter argument, its
    # twins', the projections') as handed to the grounder: with the anonymous
    # variables of positive body atoms named (_name_anonymous), worked out
    # once at load.
    named: dict[str, str] = field(default_factory=dict)
    _cache: dict[tuple[frozenset[Signature], bool, bool, frozenset[int] | None], list[ast.AST]] = field(
        default_factory=dict, repr=False
    )
    _parsed: dict[str, list[ast.AST]] = field(default_factory=dict, repr=False)
    # the marked rules (indexes) each cached selection chose
    _marked: dict[tuple[frozenset[Signature], bool, bool, frozenset[int] | None], tuple[int, ...]] = field(
        default_factory=dict, repr=False
    )
    # the order the encounter rules run in for the reasoner's bottom-up evaluation
    # (bottomup.plan_strata), worked out at load
    strata: Any = None
    # the needs of the rules, indexed for select (see _needs_index)
    _needs: _NeedsIndex | None = field(default=None, repr=False)
    # the entry groups (_entry_groups), worked out at load
    entries: tuple[EntryGroup, ...] = ()
    # the aggregate members the reasoner works out in each cached selection (see select)
    _counting: dict[tuple[frozenset[Signature], bool, bool, frozenset[int] | None], Counting] = field(
        default_factory=dict, repr=False
    )

    def keyed_keys(self, keys: set[str] | frozenset[str]) -> list[str]:
        """The keys of keyed reference tables (kb: keyed_table/2) whose rows a batch naming ``keys``
        needs: those keys, and those a row so chosen names (a muscle's row names its nerve: the
        nerve's rows come too)."""
        closed = set(keys)
        for key in keys:
            closed |= self.key_links.get(key, frozenset())
        return sorted(k for k in closed if k in self.keyed)

    def declarations_text(self) -> str:
        """The reference data's declarations (#defined), without its facts."""
        return "\n".join(stm.text for stm in self.static if not stm.heads)

    def reference_atoms(self) -> tuple[list[clingo.Symbol], dict[str, list[clingo.Symbol]]]:
        """The reference data as ground atoms: the facts every evaluation grounds, and the rows of
        keyed tables by key (see keyed_keys), in the order of the model (the same for the same
        knowledge base). The reference data are facts: _precompute_static checked it."""
        from . import terms  # noqa: PLC0415

        ctl = clingo.Control(message_limit=0)
        ctl.add("base", [], "\n".join([self.static_text(), *self.keyed.values()]))
        ctl.ground([("base", [])])
        with ctl.solve(yield_=True) as handle:
            reps = terms.atom_values(next(iter(handle)))
        static: list[clingo.Symbol] = []
        keyed: dict[str, list[clingo.Symbol]] = {}
        parts = terms.AtomReader().parts
        for rep in reps:
            name, args = parts(rep)
            sym = clingo.Symbol(rep)  # type: ignore[call-arg]
            if (name, len(args)) in self.keyed_tables:
                keyed.setdefault(str(terms.term(args[0])), []).append(sym)
            else:
                static.append(sym)
        return static, keyed

    def static_text(self) -> str:
        """The reference data (facts by predicate, see _precompute_static) as program text."""
        return "\n".join(stm.text for stm in self.static)

    def whole_text(self) -> str:
        """Every encounter rule (without provenance twins), the reference data and every keyed row, as
        program text: for searches over encounters (verify, what-if) and full answer sets (why-not)."""
        return "\n".join([self.static_text(), "\n".join(self.keyed.values()), "\n".join(r.text for r in self.rules)])

    def satisfied(self, facts: Iterable[tuple[str, Sequence[Any]]]) -> frozenset[int]:
        """The guards of the rules that the input ``facts`` meet (see reasoner/guards.py)."""
        return self.guards.satisfied(facts)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        state["_parsed"] = {}
        state["_marked"] = {}
        state["_counting"] = {}
        state["_needs"] = None
        return state

    def _needs_index(self) -> _NeedsIndex:
        """The distinct needs (encounter atoms of positive bodies, with their shapes) by predicate,
        the rules (indexes) that have each, and each rule's number of distinct needs."""
        index = self._needs
        if index is None:
            of_sig: dict[Signature, list[Shape]] = {}
            of_need: dict[Shape, list[int]] = {}
            for i, rule in enumerate(self.rules):
                for need in dict.fromkeys(rule.needs):
                    if need not in of_need:
                        of_sig.setdefault(need[0], []).append(need)
                    of_need.setdefault(need, []).append(i)
            index = self._needs = (
                {sig: tuple(ns) for sig, ns in of_sig.items()},
                {need: tuple(ids) for need, ids in of_need.items()},
                tuple(len(dict.fromkeys(rule.needs)) for rule in self.rules),
            )
        return index

    @overload
    def select(
        self, inputs: frozenset[Signature], trace: bool, *, single: bool = False, satisfied: frozenset[int] | None = None
    ) -> list[ast.AST]: ...

    @overload
    def select(
        self,
        inputs: frozenset[Signature],
        trace: bool,
        text: Literal[True],
        *,
        single: bool = False,
        satisfied: frozenset[int] | None = None,
    ) -> str: ...

    def select(
        self,
        inputs: frozenset[Signature],
        trace: bool,
        text: bool = False,
        *,
        single: bool = False,
        satisfied: frozenset[int] | None = None,
    ) -> list[ast.AST] | str:
        """The rules to ground for encounters whose input predicates are ``inputs``.

        A rule can fire only when every encounter atom of its positive body
        can hold: an input predicate present, or the head of a rule that can
        fire with a shape that unifies with it (a fixpoint). The others would
        ground to nothing and are left out.
        With ``single`` the rules are as written, for one encounter whose
        atoms carry no encounter number. With ``satisfied`` (see
        :meth:`satisfied`) a rule whose guard the input facts do not meet is
        left out too; without it every guard counts as met.
        """
        key = (inputs, trace, single, satisfied)
        cached = self._cache.get(key)
        if cached is not None and not text:
            return cached
        if len(self._cache) >= SELECTION_CACHE_LIMIT:
            self._cache.clear()
            self._marked.clear()
            self._counting.clear()
        # A body literal can hold when an input predicate is present, or when
        # the head of a chosen rule can derive an atom of its shape: a rule that
        # needs finding("emg.x", ...) or emg_unit(C, site(hemidiaphragm(X))) is
        # left out unless a chosen rule's head unifies with it (constants,
        # functions and tuples as written; variables match anything).
        # Counting: each candidate rule waits for the needs of its body not yet
        # known to hold; a need holds once a head of a shape that unifies with
        # it appears (input predicates: any shape), and a rule whose needs all
        # hold is chosen, its heads then tried against the needs still open.
        rules = self.rules
        needs_of_sig, rules_of_need, counts = self._needs_index()
        candidate = [satisfied is None or all(g in satisfied for g in r.guards) for r in rules]
        missing = list(counts)
        held: set[Shape] = set()
        heads: dict[Signature, set[Pattern]] = {}
        chosen = [False] * len(rules)
        ready = [i for i in range(len(rules)) if candidate[i] and missing[i] == 0]

        def offer(sig: Signature, pattern: Pattern) -> None:
            """A head of this shape can be derived: the open needs it meets now hold."""
            found = heads.setdefault(sig, set())
            if pattern in found:
                return
            found.add(pattern)
            for need in needs_of_sig.get(sig, ()):
                if need not in held and unifiable(need[1], pattern):
                    held.add(need)
                    for j in rules_of_need[need]:
                        missing[j] -= 1
                        if missing[j] == 0 and candidate[j]:
                            ready.append(j)

        for sig in inputs:
            offer(sig, None)
        while ready:
            i = ready.pop()
            if chosen[i]:
                continue
            chosen[i] = True
            for sig, pattern in rules[i].head_keys:
                offer(sig, pattern)
        # Reference data is grounded in full (see static_text); text
        # mode, for the load-time check, includes it here.
        parts = [stm.text for stm in self.static] if text else []
        parts.append(self.declarations)
        # An encounter alone leaves its message and check rules to the
        # reasoner (reasoner/messages.py).
        for i, rule in enumerate(self.rules):
            if single and (rule.message or rule.check):
                chosen[i] = False
        # Show the output predicates the chosen rules define. (Evaluations run
        # with the atom-undefined message off: a subset of the rules is
        # grounded, so atoms no chosen rule defines are expected.)
        defined: set[Signature] = set()
        records: list[str] = []
        # (a batch's fact rules and the rules of its entry groups are grounded as written even with
        # the trace: the reasoner gives their derivations, reasoner/byfact.py)
        traced = [
            trace and chosen[i] and (single or (rule.fact is None and not rule.entry)) for i, rule in enumerate(self.rules)
        ]
        # A traced batch's aggregate members that the reasoner works out (CountedMember): those of a
        # predicate that no input or reference fact gives and whose chosen rules are all marked (the
        # batch gives every derivation of theirs, as a record or through reasoner/byfact.py, so every
        # atom of the predicate that holds). A rule whose members are all such is grounded without
        # its member twins (lean_twins).
        lean = [False] * len(rules)
        counting: list[tuple[int, tuple[CountedMember, ...]]] = []
        counted_sigs: set[Signature] = set()
        if trace and not single:
            given = {sig for stm in self.static for sig in stm.heads} | set(self.provided) | inputs
            for i, rule in enumerate(rules):
                if (
                    traced[i]
                    and rule.record is not None
                    and rule.counted
                    and all(self._reasoner_gives(c.member, chosen, given) for c in rule.counted)
                ):
                    lean[i] = True
                    counting.append((i, rule.counted))
                    counted_sigs.update(c.member for c in rule.counted)
        for i, rule in enumerate(self.rules):
            if chosen[i]:
                defined.update(rule.head)
                if traced[i] and rule.record is not None and not single:
                    # a record of the values of the variables: after the encounter number (and
                    # the record's name last)
                    name, slots = rule.record
                    records.append(f"#show {name}/{len(slots) + 2}.")
                    if rule.lean_members if lean[i] else any(sig[0] == "prov_member" for sig in rule.twin_heads):
                        members = f"#show prov_member/{1 + 3 + 1}."  # K, rule, head, member, tag
                        if members not in records:
                            records.append(members)
                elif traced[i]:
                    defined.update(rule.twin_heads)
        extra = 0 if single else 1
        parts.extend(f"#show {n}/{a + extra}." for n, a in self.shown if (n, a) in defined)
        parts.extend(records)
        # With the trace a marked rule is replaced by its twins: the record
        # of each derivation, and the head projected from the records (one
        # rule per head predicate; a batch's twins that record the values of
        # the variables project their head themselves), so that the body is
        # joined once.
        projected: set[Signature] = set()
        for i, rule in enumerate(self.rules):
            if chosen[i]:
                if traced[i] and rule.marked:
                    if single or rule.record is None:
                        projected.update(rule.head)
                else:
                    parts.append(rule.single if single else rule.text)
                if traced[i] and rule.twins:
                    parts.append(rule.single_twins if single else rule.lean_twins if lean[i] else rule.twins)
        for sig in sorted(projected):
            parts.append(self.projections[sig][1 if single else 0])
        if text:
            return "\n".join(parts)
        # each piece is parsed once and its statements shared by every
        # selection that holds it, so that a cached selection is only a list
        statements: list[ast.AST] = []
        for part in parts:
            parsed = self._parsed.get(part)
            if parsed is None:
                parsed = self._parsed[part] = _parse(self.named.get(part, part))
            statements.extend(parsed)
        self._cache[key] = statements
        self._marked[key] = tuple(i for i, rule in enumerate(rules) if chosen[i] and rule.marked)
        producers = frozenset(i for i, rule in enumerate(rules) if chosen[i] and not counted_sigs.isdisjoint(rule.head))
        self._counting[key] = Counting(tuple(counting), producers)
        return statements

    def _reasoner_gives(self, sig: Signature, chosen: list[bool], given: set[Signature]) -> bool:
        """Whether a traced batch that grounds the rules ``chosen`` gives every derivation of ``sig``
        (so every atom of it that holds): no fact gives it (``given``: input and reference
        predicates), and each chosen rule defining it is marked."""
        if sig in given or _is_input(sig):
            return False
        return all(rule.marked for i, rule in enumerate(self.rules) if chosen[i] and sig in rule.head)

    def counting(
        self, inputs: frozenset[Signature], trace: bool, *, single: bool = False, satisfied: frozenset[int] | None = None
    ) -> Counting:
        """The aggregate members the reasoner works out for the selection of these arguments (those
        whose member twins it left out: see :meth:`select`)."""
        return self._of_selection(self._counting, (inputs, trace, single, satisfied))  # type: ignore[no-any-return]

    def marked_chosen(
        self, inputs: frozenset[Signature], trace: bool, *, single: bool = False, satisfied: frozenset[int] | None = None
    ) -> tuple[int, ...]:
        """The marked rules (indexes into ``rules``) the selection of these arguments chose."""
        return self._of_selection(self._marked, (inputs, trace, single, satisfied))  # type: ignore[no-any-return]

    def _of_selection(self, table: dict[Any, Any], key: tuple[Any, ...]) -> Any:
        """What :meth:`select` keeps in ``table`` for the selection of ``key``'s arguments (kept and
        emptied with the selection cache: made again by selecting when missing)."""
        found = table.get(key)
        if found is None:
            inputs, trace, single, satisfied = key
            self.select(inputs, trace, single=single, satisfied=satisfied)
            found = table[key]
        return found


def _parse(text: str) -> list[ast.AST]:
    """Program text as AST statements (without the leading #program base)."""
    out: list[ast.AST] = []
    ast.parse_string(text, out.append)
    return [s for s in out if s.ast_type != ast.ASTType.Program]


def _name_anonymous(stm: ast.AST) -> ast.AST:
    """The statement with each anonymous variable of a positive body atom given a name of its own.

    For ``code(C, _)`` the grounder adds a rule projecting ``code/2`` onto
    its first argument and grounds both; ``code(C, Anon__1)`` gives the same
    answers (the head is the same for every value of the fresh variable)
    without the extra rule, about a tenth of a plain evaluation's grounding
    work (docs/performance.md). Anonymous variables elsewhere (negative
    literals, aggregate elements, conditions) are left as they are: there
    ``_`` means "any value", which a named variable would not.
    """
    if stm.ast_type != ast.ASTType.Rule:
        return stm
    positive = [
        lit.ast_type == ast.ASTType.Literal and lit.sign == ast.Sign.NoSign and lit.atom.ast_type == ast.ASTType.SymbolicAtom
        for lit in stm.body
    ]
    if not any(is_positive and _ANONYMOUS.search(str(lit)) for is_positive, lit in zip(positive, stm.body)):
        return stm
    # the only names a fresh one could meet are those of this form
    namer = _AnonNamer(set(re.findall(r"\bAnon__\d+\b", str(stm))))
    body = [namer(lit) if is_positive else lit for is_positive, lit in zip(positive, stm.body)]
    return ast.Rule(stm.location, stm.head, body)


# an anonymous variable in program text: "_" not part of a name (a string holding
# one only costs a closer look)
_ANONYMOUS = re.compile(r"(?<![A-Za-z0-9_'])_(?![A-Za-z0-9_'])")


def _named_text(text: str) -> str:
    """Program text with the anonymous variables of positive body atoms named (_name_anonymous)."""
    if not _ANONYMOUS.search(text):
        return text
    return "\n".join(str(_name_anonymous(stm)) for stm in _parse(text))


def _is_input(sig: Signature) -> bool:
    return sig[0].startswith(INPUT_PREFIX) or sig[0] in INPUT_NAMES


def _symbol_pattern(sym: clingo.Symbol) -> Pattern:
    if sym.type == clingo.SymbolType.Function and sym.arguments:
        return ("f", sym.name, tuple(_symbol_pattern(a) for a in sym.arguments))
    return ("c", str(sym))


def _pattern(term: ast.AST) -> Pattern:
    kind = term.ast_type
    if kind == ast.ASTType.SymbolicTerm:
        return _symbol_pattern(term.symbol)
    if kind == ast.ASTType.Function and not term.external:
        if not term.arguments:
            return ("c", term.name)
        return ("f", term.name, tuple(_pattern(a) for a in term.arguments))
    return None


def _atom_pattern(term: ast.AST) -> Pattern:
    """The arguments of an atom as patterns (None for an atom without them)."""
    if term.ast_type == ast.ASTType.Function and term.arguments:
        return tuple(_pattern(a) for a in term.arguments)
    return None


def unifiable(a: Pattern, b: Pattern) -> bool:
    """Whether two patterns (or two tuples of argument patterns) can stand for the same term."""
    if a is None or b is None:
        return True
    if a[0] == "c" or b[0] == "c":
        return a == b
    if a[0] == "f" and b[0] == "f":
        return a[1] == b[1] and len(a[2]) == len(b[2]) and all(map(unifiable, a[2], b[2]))
    # two tuples of argument patterns
    return len(a) == len(b) and all(map(unifiable, a, b))


def _refined(rule: ast.AST, dynamic: set[Signature]) -> tuple[list[Shape], list[Shape]]:
    """The positive encounter literals of the body, and the head, with the patterns of their arguments."""
    needs: list[Shape] = []
    for lit in rule.body:
        if (
            lit.ast_type == ast.ASTType.Literal
            and lit.sign == ast.Sign.NoSign
            and lit.atom.ast_type == ast.ASTType.SymbolicAtom
        ):
            sig = _signature(lit.atom.symbol)
            if sig is not None and sig in dynamic:
                needs.append((sig, _atom_pattern(lit.atom.symbol)))
    heads: list[Shape] = []
    head = rule.head
    if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom:
        sig = _signature(head.atom.symbol)
        if sig is not None and sig in dynamic:
            heads.append((sig, _atom_pattern(head.atom.symbol)))
    else:
        heads.extend((sig, None) for sig in _head_atoms(rule) if sig in dynamic)
    return needs, heads


def _positive_needs(rule: ast.AST, dynamic: set[Signature]) -> list[Signature]:
    return [sig for sig, _ in _refined(rule, dynamic)[0]]


@dataclass
class _Stmt:
    node: ast.AST
    kind: ast.ASTType
    heads: list[Signature]
    body: list[Signature]
    fact: bool


def _describe(stm: ast.AST) -> _Stmt:
    kind = stm.ast_type
    if kind != ast.ASTType.Rule:
        return _Stmt(stm, kind, [], [], False)
    body = stm.body
    if not body:
        head = stm.head
        if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom:
            sig = _signature(head.atom.symbol)
            return _Stmt(stm, kind, [sig] if sig else [], [], True)
        return _Stmt(stm, kind, _head_atoms(stm), [], True)
    return _Stmt(stm, kind, _head_atoms(stm), _body_atoms(stm), False)


def _split(collector: _Provenance) -> LoadedProgram:
    described = [_describe(s) for s in collector.statements]
    rules = [d for d in described if d.kind == ast.ASTType.Rule]
    dynamic: set[Signature] = set()
    for d in described:
        if d.kind == ast.ASTType.Defined and _is_input((d.node.name, d.node.arity)):
            dynamic.add((d.node.name, d.node.arity))
    for d in rules:
        for sig in d.heads + d.body:
            if _is_input(sig):
                dynamic.add(sig)
    changed = True
    while changed:
        changed = False
        for d in rules:
            if d.fact:
                continue
            if any(h in dynamic for h in d.heads) or any(b in dynamic for b in d.body):
                for h in d.heads:
                    if h not in dynamic:
                        dynamic.add(h)
                        changed = True
    twin_sigs = {i: [(_head_atoms(t), _body_atoms(t)) for t in tw] for i, tw in collector.twins.items()}
    for pairs in twin_sigs.values():
        for heads, _ in pairs:
            dynamic.update(heads)
    # the predicates a rule or fact of the knowledge base defines (an input predicate among them is
    # not only the encounter's facts: see _fact_of)
    defined = {h for d in rules for h in d.heads}
    # a batch's twins of each marked rule, recording the values of the variables (by statement index)
    bindings: dict[int, tuple[str, list[ast.AST], tuple[str, ...]]] = {}
    for i, tw in sorted(collector.twins.items()):
        name = record_name(len(bindings))
        made = _binding_twins(name, collector.statements[i], tw)
        if made is not None:
            bindings[i] = (name, *made)
            dynamic.add((name, len(made[1]) + 1))
            if len(tw) > 1:
                dynamic.add(("prov_member", 4))  # a member with its tag
    add_k = _AddEncounter(dynamic)

    def with_k(rule: ast.AST) -> str:
        new = add_k(rule)
        if _positive_needs(rule, dynamic):
            # a positive encounter literal binds the encounter variable already
            return str(new)
        loc = rule.location
        guard = ast.Literal(
            loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, ENCOUNTER, [ast.Variable(loc, ENCOUNTER_VAR)], 0))
        )
        return str(ast.Rule(new.location, new.head, [guard, *new.body]))

    # Static predicates read by some rule body or shown; the rest (names,
    # labels, messages, sources) is documentation read once for the vocabulary.
    used: set[Signature] = set()
    for d in rules:
        used.update(d.body)
    for pairs in twin_sigs.values():
        for _, body in pairs:
            used.update(body)
    used |= {(d.node.name, d.node.arity) for d in described if d.kind == ast.ASTType.ShowSignature}

    # Keyed reference tables: a row is needed only by encounters that name its
    # key (its first argument), so it is grounded only for them.
    keyed_tables: set[Signature] = set()
    for d in rules:
        if d.fact and d.heads == [("keyed_table", 2)]:
            name, arity = d.node.head.atom.symbol.arguments
            keyed_tables.add((str(name), int(str(arity))))
    keyed: dict[str, list[str]] = {}

    static: list[StaticStatement] = []
    documentation: list[str] = []
    declarations: list[str] = []
    shown: list[Signature] = []
    encounter_rules: list[EncounterRule] = []
    grounded: list[ast.AST] = []  # the encounter rules, their twins and projections (for _is_stratified)
    # Message rules are evaluated by the reasoner as written; a constant
    # definition would change what they mean, so with one they are all grounded.
    evaluable = not any(d.kind == ast.ASTType.Definition for d in described)
    for index, d in enumerate(described):
        stm, t = d.node, d.kind
        if t == ast.ASTType.Program:
            continue
        if t == ast.ASTType.Rule:
            if d.fact and d.heads and d.heads[0] in keyed_tables:
                text = str(stm)
                keyed.setdefault(str(stm.head.atom.symbol.arguments[0]), []).append(text)
                documentation.append(text)
            elif any(sig in dynamic for sig in d.heads) or (not d.fact and any(sig in dynamic for sig in d.body)):
                reads = {b for b in d.body if b not in dynamic}
                uses = {b for b in d.body if b in dynamic}
                for _, body in twin_sigs.get(index, []):
                    reads.update(b for b in body if b not in dynamic)
                    uses.update(b for b in body if b in dynamic)
                grounded.append(stm)
                grounded.extend(collector.twins.get(index, []))
                binding = bindings.get(index)
                counted: list[CountedMember] = []
                lean = ""
                kept: list[ast.AST] = []
                if binding is not None:
                    grounded.extend(binding[1])
                    # the member twins come after the record twin (binding[1][0]) and before the head
                    # projected (binding[1][-1]), in the order of the twins they stand for
                    kept = [binding[1][0]]
                    for original, made in zip(collector.twins[index][1:], binding[1][1:-1]):
                        spec = _counted_member(original)
                        if spec is None:
                            kept.append(made)
                        else:
                            counted.append(spec)
                    if counted:
                        lean = "\n".join(with_k(tw) for tw in (*kept, binding[1][-1]))
                encounter_rules.append(
                    EncounterRule(
                        with_k(stm),
                        "\n".join(
                            with_k(tw) for tw in (binding[1] if binding else collector.twins.get(index, []))
                        ),
                        tuple(h for h in d.heads if h in dynamic),
                        tuple(sorted(reads)),
                        tuple(sorted(uses)),
                        tuple(sorted({h for heads, _ in twin_sigs.get(index, []) for h in heads})),
                        *(tuple(x) for x in _refined(stm, dynamic)),
                        str(stm),
                        "\n".join(str(tw) for tw in collector.twins.get(index, [])),
                        bool(collector.twins.get(index)),
                        message=(message_of(stm) or "") if evaluable and not collector.twins.get(index) else "",
                        check=evaluable and not collector.twins.get(index) and is_check(stm),
                        portable=portable_rule(stm) if evaluable else None,
                        record=(binding[0], binding[2]) if binding else None,
                        fact=_fact_of(collector.twins[index], dynamic, defined) if collector.twins.get(index) else None,
                        counted=tuple(counted),
                        lean_twins=lean,
                        lean_members=len(kept) > 1 if counted else False,
                    )
                )
            elif any(h in used for h in d.heads):
                static.append(StaticStatement(str(stm), tuple(d.heads), tuple(sorted(set(d.body)))))
            else:
                documentation.append(str(stm))
        elif t == ast.ASTType.Defined:
            if (stm.name, stm.arity) not in dynamic:
                static.append(StaticStatement(str(stm), (), ()))
            # encounter predicates are declared per selection (see select)
        elif t == ast.ASTType.ShowSignature:
            if (stm.name, stm.arity) in dynamic:
                shown.append((stm.name, stm.arity))
            else:
                declarations.append(str(stm))
        else:
            declarations.append(str(stm))
    # The head of each marked rule, projected from its derivation records
    # (used with the trace in place of the rules themselves, see select).
    projections: dict[Signature, tuple[str, str]] = {}
    for rule in encounter_rules:
        if not rule.marked:
            continue
        for sig in rule.head:
            if sig in projections:
                continue
            name, arity = sig
            variables = ",".join(f"X{i}" for i in range(arity))
            atom = f"{name}({variables})" if arity else name
            single = f"{atom} :- {prov_name(sig)}(_,{atom},_,_,_)."
            (parsed,) = _parse(single)
            grounded.append(parsed)
            projections[sig] = (with_k(parsed), single)
            shown.append((prov_name(sig), 5))
    return LoadedProgram(
        static,
        "\n".join(documentation),
        "\n".join(declarations),
        encounter_rules,
        collector.marked,
        dynamic,
        {k: "\n".join(v) for k, v in keyed.items()},
        keyed_tables,
        shown=tuple(shown),
        projections=projections,
        stratified=_is_stratified(grounded),
    )


def _precompute_static(program: LoadedProgram) -> None:
    """Replace the reference data and the rules over it by the facts they amount to.

    Static rules (code lists written with pools, trunk_of/2 ...) are evaluated
    once here; an evaluation then grounds plain facts, grouped by predicate, and
    only those of the predicates its rules read.
    """
    ctl = clingo.Control(message_limit=0)
    ctl.add("base", [], "\n".join(stm.text for stm in program.static))
    try:
        ctl.ground([("base", [])])
    except RuntimeError as exc:
        raise KnowledgeBaseError(f"the knowledge base reference data does not ground: {exc}") from exc
    defined = [stm for stm in program.static if not stm.heads]
    facts: dict[Signature, list[str]] = {}
    for stm in program.static:
        for sig in stm.heads:
            facts.setdefault(sig, [])
    for atom in ctl.symbolic_atoms:
        sym = atom.symbol
        sig = (sym.name, len(sym.arguments))
        if sig in facts:
            if not atom.is_fact:
                raise KnowledgeBaseError(f"reference data must be facts; {sym} is not")
            facts[sig].append(f"{sym}.")
    keyed_facts: dict[str, list[str]] = {}
    for sig in [sig for sig in facts if sig in program.keyed_tables]:
        for line in facts.pop(sig):
            key = clingo.parse_term(line[:-1]).arguments[0]
            keyed_facts.setdefault(str(key), []).append(line)
    for key, lines in keyed_facts.items():
        program.keyed[key] = "\n".join(filter(None, [program.keyed.get(key, ""), *sorted(lines)]))
    links: dict[str, set[str]] = {}
    for key, text in program.keyed.items():
        for line in text.splitlines():
            for arg in clingo.parse_term(line.rstrip(".")).arguments[1:]:
                if arg.type == clingo.SymbolType.Function and not arg.arguments and str(arg) in program.keyed:
                    links.setdefault(key, set()).add(str(arg))
    program.key_links = {k: frozenset(v) for k, v in links.items()}
    grouped = [
        StaticStatement("\n".join(sorted(lines)), (sig,), ())
        for sig, lines in sorted(facts.items())
    ]
    program.static = defined + grouped
    # For the load-time check of the whole knowledge base: every predicate
    # that facts, not rules, provide.
    provided = set(program.keyed_tables) | set(facts) | {(ENCOUNTER, 0)}
    provided |= {(n, a) for n, a in program.dynamic if _is_input((n, a))}
    # reference data declared with #defined and no rows yet (contractor_npp/4)
    for stm in defined:
        m = re.match(r"#defined\s+([a-z_][A-Za-z0-9_']*)/(\d+)\.", stm.text.strip())
        if m:
            provided.add((m.group(1), int(m.group(2))))
    program.provided = tuple(sorted(provided))


def _compute_guards(program: LoadedProgram) -> None:
    """Give each encounter rule its guards (reasoner/guards.py), from the rules as written and the
    reference data (every keyed row included)."""
    static, keyed = program.reference_atoms()
    reference: dict[Signature, list[tuple[str, ...]]] = {}
    for sym in [*static, *(sym for rows in keyed.values() for sym in rows)]:
        reference.setdefault((sym.name, len(sym.arguments)), []).append(tuple(str(a) for a in sym.arguments))
    statements = [_parse(rule.single)[0] for rule in program.rules]
    heads = [rule.head for rule in program.rules]
    program.guards, per_rule = derive_guards(statements, heads, program.dynamic, reference, program.keyed_tables, _is_input)
    program.rules = [replace(rule, guards=ids) for rule, ids in zip(program.rules, per_rule)]


def _is_stratified(statements: Iterable[ast.AST]) -> bool:
    """Whether ``statements`` (the encounter rules, with their twins and projections) are normal rules whose head is
    one atom (no constraint, choice, disjunction, optimisation or external), and no predicate
    depends on itself through a negative literal, an aggregate or a conditional literal.

    Reference data are facts (_precompute_static checked it). For such a program the answer set
    exists, is unique, and is what the grounder derives: every atom it derives is a fact.
    """
    import networkx as nx  # noqa: PLC0415

    graph: nx.DiGraph = nx.DiGraph()
    negative: set[tuple[Signature, Signature]] = set()
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule:
            return False
        head = stm.head
        if head.ast_type != ast.ASTType.Literal or head.sign != ast.Sign.NoSign:
            return False
        if head.atom.ast_type != ast.ASTType.SymbolicAtom:
            return False
        sig = _signature(head.atom.symbol)
        if sig is None:
            return False
        graph.add_node(sig)
        for lit in stm.body:
            direct = lit.ast_type == ast.ASTType.Literal and lit.atom.ast_type == ast.ASTType.SymbolicAtom
            if direct:
                found = _signature(lit.atom.symbol)
                body_sigs = [found] if found is not None else []
            else:
                body_sigs = _atoms(lit)
            for body_sig in body_sigs:
                graph.add_edge(body_sig, sig)
                if not direct or lit.sign != ast.Sign.NoSign:
                    negative.add((body_sig, sig))
    for component in nx.strongly_connected_components(graph):
        if any((a, b) in negative for a in component for b in component if graph.has_edge(a, b)):
            return False
    return True


def _local_variable(
    portable: tuple[Any, ...], keyed: dict[Signature, int], inputs: set[Signature], dynamic: set[Signature]
) -> tuple[str, list[tuple[Signature, int]]] | None:
    """The variable by which a rule's body reads one entry (see :func:`_entry_groups`), with the
    input predicates it reads and the argument position that holds it there; None if there is none."""
    _, _, literals = portable
    found: dict[str, list[tuple[Signature, int]]] | None = None
    for lit in literals:
        if lit[0] == "cmp":
            continue
        if lit[0] not in ("pos", "neg"):
            return None  # an aggregate
        sig = (lit[1], len(lit[2]))
        if sig not in dynamic:
            continue  # reference data
        if sig in keyed:
            allowed: Iterable[int] = (keyed[sig],)
        elif sig in inputs:
            allowed = range(len(lit[2]))
        else:
            return None  # a derived predicate not keyed by an entry
        here: dict[str, list[tuple[Signature, int]]] = {}
        for pos in allowed:
            arg = lit[2][pos]
            if arg[0] == "v" and arg[1] not in here:
                here[arg[1]] = [(sig, pos)] if sig in inputs else []
        found = here if found is None else {v: found[v] + here[v] for v in found if v in here}
        if not found:
            return None
    if not found:
        return None
    variable = next(iter(found))  # the first in the order of the body's arguments
    return variable, found[variable]


def _placeable(
    portable: tuple[Any, ...], variable: str, keyed: dict[Signature, int], inputs: set[Signature]
) -> bool:
    """Whether a rule of an entry group only joins on the entry's variable: in its body the variable
    is an argument of encounter literals only, once in each, where the group reads the entry (the
    position of an input predicate, the key of a keyed one), and nowhere else (no comparison, no
    reference literal, no function term). Run over an entry's facts with the entry's value replaced
    by any other value, the rule then derives the same, with that value in its place."""
    for lit in portable[2]:
        if lit[0] == "cmp":
            if variable in pattern_variables(lit[3], pattern_variables(lit[2], set())):
                return False
            continue
        sig = (lit[1], len(lit[2]))
        direct = [k for k, arg in enumerate(lit[2]) if arg == ("v", variable)]
        if any(arg != ("v", variable) and variable in pattern_variables(arg, set()) for arg in lit[2]):
            return False  # in a function term
        if not direct:
            continue
        if len(direct) > 1 or (sig not in inputs and keyed.get(sig) != direct[0]):
            return False
    return True


def _twin_portable(twins: str) -> tuple[Any, ...] | None:
    """The body of a marked rule's record twin (the first rule of ``twins``, its anonymous variables
    of positive literals named) as a :func:`messages.portable_rule` reads it, under a head of no
    arguments; None if the reasoner could not evaluate it."""
    record = next(s for s in _parse(twins) if s.ast_type == ast.ASTType.Rule)
    loc = record.location
    head = ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, "body", [], 0)))
    return portable_rule(ast.Rule(loc, head, record.body))


def _entry_groups(program: LoadedProgram, compiles: set[int]) -> tuple[EntryGroup, ...]:
    """The groups of marked rules whose derivations depend on the encounter through the input facts
    of one entry at a time: a rule of a group reads, in each of its encounter literals (positive or
    negated, no aggregate), the same variable X where an input predicate has it, or where a keyed
    predicate has its entry; a derived predicate is keyed (at argument k) when every rule that
    defines it is such a rule with X as its head's argument k. ``limb_entry(I,L) :- enc_emg(I,_,S);
    emg_region(I,G); limb_of(G,S,L).`` reads entry I of the needle EMG list, ``emg_region`` being
    keyed by I (its rules read ``enc_emg(I,M,_)`` and ``not enc_emg_region(I,_)``, or
    ``enc_emg_region(I,G)``); ``limb_muscle(L,M) :- limb_entry(I,L); enc_emg(I,M,_).`` reads it
    too. Such a rule's derivations through entry v are then those of the rules of its group run on
    the input facts that have v where the group reads the entry (and the reference data): the same
    in every encounter with the same such facts. A traced batch grounds the rules as written and
    the reasoner works out their derivations once per entry's facts and keeps them
    (reasoner/byfact.py). Rules are grouped by the predicates they share (one group per kind of
    entry); a group of fact rules alone is left to the fact rules (:func:`_fact_of`). A rule
    qualifies only if its record twin compiles (the reasoner runs it to give the values of the
    variables: ``compiles``, the indexes of such rules) and its head's rules are in a step of their
    own (not recursive)."""
    dynamic = program.dynamic
    rules = program.rules
    # a predicate some statement of the reference data also defines is not read from the entry alone
    given = {sig for stm in program.static for sig in stm.heads}
    defined = {sig for rule in rules for sig in rule.head} | given
    inputs = {sig for sig in dynamic if _is_input(sig) and sig not in defined}
    step_of: dict[int, int] = {}
    for n, step in enumerate(program.strata.steps if program.strata is not None else ()):
        if not step.recursive:
            for i in step.rules:
                step_of[i] = n
    candidates = [
        i
        for i, rule in enumerate(rules)
        if i in compiles and rule.portable is not None and len(rule.head) == 1 and rule.head[0] not in given and i in step_of
    ]
    rules_of: dict[Signature, list[int]] = {}
    for i, rule in enumerate(rules):
        for sig in rule.head:
            rules_of.setdefault(sig, []).append(i)
    keyed: dict[Signature, int] = {}
    local: dict[int, tuple[str, list[tuple[Signature, int]]]] = {}
    # the rules as their record twins name the anonymous variables, made when first needed
    named: dict[int, tuple[Any, ...] | None] = {}
    # each rule's body as read: as written, or as its record twin names it (see below)
    portable = {i: rules[i].portable for i in candidates}
    while True:
        local = {}
        for i in candidates:
            found = _local_variable(portable[i], keyed, inputs, dynamic)  # type: ignore[arg-type]
            if found is None:
                # ``limb_examined(L) :- limb_entry(_,L).`` reads the entry as ``_``: its record twin
                # names it (Anon__1), and records its value, by which it reads the entry the same
                if i not in named:
                    named[i] = _twin_portable(program.named.get(rules[i].single_twins, rules[i].single_twins))
                twin = named[i]
                if twin is not None:
                    found = _local_variable(twin, keyed, inputs, dynamic)
                    if found is not None:
                        portable[i] = twin
            if found is not None and found[0] in rules[i].record[1]:  # type: ignore[index]
                local[i] = found
        grown = False
        for sig, defining in rules_of.items():
            if sig in keyed or not all(i in local for i in defining):
                continue
            at = set()
            for i in defining:
                head = rules[i].portable[1]  # type: ignore[index]
                at.add(next((k for k, arg in enumerate(head) if arg == ("v", local[i][0])), None))
            if len(at) == 1 and None not in at:
                keyed[sig] = at.pop()
                grown = True
        if not grown:
            break
    # one group per set of rules linked by the predicates they read or define
    parent: dict[Any, Any] = {}

    def root(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for i, (_, reads) in local.items():
        # an input predicate links the rules that read the entry at the same position in it; a keyed
        # predicate, the rules that define and read it
        body = [(lit[1], len(lit[2])) for lit in portable[i][2] if lit[0] in ("pos", "neg")]  # type: ignore[index]
        links = [("input", read) for read in reads] + [("keyed", s) for s in (*rules[i].head, *body) if s in keyed]
        for other in links:
            parent[root(other)] = root(("rule", i))
    members: dict[Any, list[int]] = {}
    for i in local:
        members.setdefault(root(("rule", i)), []).append(i)
    groups = []
    for indexes in members.values():
        if all(rules[i].fact is not None for i in indexes):
            continue
        order = sorted(indexes, key=lambda i: (step_of[i], i))
        reads = sorted({read for i in indexes for read in local[i][1]})
        slots = tuple(rules[i].record[1].index(local[i][0]) for i in order)  # type: ignore[index]
        # a predicate read at two positions holds two entries' values: not replaced
        placeable = len({sig for sig, _ in reads}) == len(reads) and all(
            _placeable(portable[i], local[i][0], keyed, inputs) for i in order  # type: ignore[arg-type]
        )
        groups.append(EntryGroup(tuple(order), tuple(reads), slots, placeable))
    groups.sort(key=lambda g: g.rules)
    return tuple(groups)


def load_program(entry: Path, extra: Sequence[str] = ()) -> LoadedProgram:
    """Parse the entry file (following its includes), add provenance twins, split static from encounter rules."""
    collector = _Provenance()
    messages: list[str] = []

    def logger(code: clingo.MessageCode, msg: str) -> None:
        messages.append(msg.strip())

    try:
        ast.parse_files([str(entry)], collector.add, logger=logger, message_limit=20)
        for text in extra:
            ast.parse_string(text, collector.add, logger=logger, message_limit=20)
    except RuntimeError as exc:
        detail = "; ".join(messages) or str(exc)
        raise KnowledgeBaseError(f"the knowledge base does not parse: {detail}") from exc
    program = _split(collector)
    _precompute_static(program)
    _compute_guards(program)
    texts = [t for r in program.rules for t in (r.text, r.twins, r.lean_twins, r.single, r.single_twins) if t]
    texts += [t for pair in program.projections.values() for t in pair]
    program.named = {t: _named_text(t) for t in texts}
    # the marked rules whose record twin the reasoner compiles to give the values of their variables:
    # a fact rule's or entry group's derivations are worked out so and rebuilt from those values, as
    # batch records are (reasoner/byfact.py)
    compiles = {
        i
        for i, rule in enumerate(program.rules)
        if rule.record is not None
        and compile_values(program.named.get(rule.single_twins, rule.single_twins), rule.record[1]) is not None
    }
    for i, rule in enumerate(program.rules):
        if rule.fact is not None and i not in compiles:
            program.rules[i] = replace(rule, fact=None)
    from .bottomup import plan_strata  # noqa: PLC0415 (bottomup builds on this module)

    program.strata = plan_strata(program)
    program.entries = _entry_groups(program, compiles)
    for group in program.entries:
        for i in group.rules:
            program.rules[i] = replace(program.rules[i], fact=None, entry=True)
    static_marked = [m for m in collector.marked if m.signature not in program.dynamic]
    if static_marked:
        m = static_marked[0]
        raise KnowledgeBaseError(
            f"{m.file}:{m.line}: rule {m.rule_id} does not depend on the encounter; "
            "write it as reference data without a rule(...) marker"
        )
    return program

