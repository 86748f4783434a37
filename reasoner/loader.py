"""Load the knowledge base and add provenance to its rules.

A rule that derives a code, a finding or an intermediate conclusion names
itself with a marker literal in its body::

    limb_complete(L) :- rule("emg.limb.complete_nerves"),
                        limb_muscle_count(L, M), M >= 5,
                        limb_nerve_count(L, N), N >= 3.

At load time the marker is taken out of the rule and a twin rule with the same
body is added that records the derivation::

    prov("emg.limb.complete_nerves", limb_complete(L),
         (limb_muscle_count(L,M), limb_nerve_count(L,N)),   % facts used
         (),                                                 % atoms that were absent
         (cmp(M,">=",5), cmp(N,">=",3))) :- <same body>.

and, for every aggregate in the body, a rule per element that records which
atoms the aggregate counted::

    prov_member("emg.limb.count", limb_muscle_count(L,N), limb_muscle(L,M)) :- ...

The rules stay as written, the trace cannot drift from them, and a new rule
family needs no Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import clingo
from clingo import ast

MARKER = "rule"


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


_OPS = {
    ast.ComparisonOperator.Equal: "=",
    ast.ComparisonOperator.NotEqual: "!=",
    ast.ComparisonOperator.GreaterEqual: ">=",
    ast.ComparisonOperator.GreaterThan: ">",
    ast.ComparisonOperator.LessEqual: "<=",
    ast.ComparisonOperator.LessThan: "<",
}


def _comparison_terms(location: ast.Location, comp: ast.AST) -> list[ast.AST]:
    out = []
    left = comp.term
    for guard in comp.guards:
        out.append(
            ast.Function(
                location,
                "cmp",
                [left, _string(location, _OPS[guard.comparison]), guard.term],
                0,
            )
        )
        left = guard.term
    return out


class _AnonNamer(ast.Transformer):
    """Gives each anonymous variable a fresh name of its own."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Variable(self, var: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        if var.name != "_":
            return var
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
        if stm.ast_type != ast.ASTType.Rule:
            self.statements.append(stm)
            return
        ids = [
            lit
            for lit in stm.body
            if lit.ast_type == ast.ASTType.Literal
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
                    "prov",
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
                    twins.append(ast.Rule(loc, member_head, list(body) + outside))


ENCOUNTER_VAR = "K__enc"
ENCOUNTER = "_encounter"
INPUT_PREFIX = "enc_"
INPUT_NAMES = ("switch",)

Signature = tuple[str, int]


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
class EncounterRule:
    """A rule that depends on the encounter, with what it needs to fire."""

    statement: ast.AST
    twins: tuple[ast.AST, ...]
    head: tuple[Signature, ...]
    needs: tuple[Signature, ...]  # encounter predicates of its positive body literals


@dataclass
class LoadedProgram:
    """The knowledge base, parsed and transformed once.

    ``static`` holds the reference data and the rules that do not depend on an
    encounter. Every rule that does depend on one is rewritten so that each
    encounter atom carries the encounter number as its first argument and the
    body starts with ``_encounter(K)``: one grounding then evaluates a whole
    batch of encounters side by side without mixing them. For a batch only the
    rules that can fire are grounded (:meth:`select`), and their provenance
    twins only when a trace is asked for.
    """

    static: list[ast.AST]
    documentation: list[ast.AST]
    declarations: list[ast.AST]
    rules: list[EncounterRule]
    marked: list[MarkedRule]
    dynamic: set[Signature]
    keyed: dict[str, list[ast.AST]] = field(default_factory=dict)
    _cache: dict[tuple[frozenset[Signature], bool], list[ast.AST]] = field(default_factory=dict, repr=False)

    def keyed_rows(self, keys: set[str]) -> list[ast.AST]:
        """The rows of keyed reference tables (kb: keyed_table/2) whose key the batch names."""
        out: list[ast.AST] = []
        for key in sorted(keys):
            out.extend(self.keyed.get(key, ()))
        return out

    def select(self, inputs: frozenset[Signature], trace: bool) -> list[ast.AST]:
        """The statements to ground for encounters whose input predicates are ``inputs``.

        A rule can fire only when every encounter predicate of its positive body
        can hold: the input predicates present, and the heads of rules that can
        fire (a fixpoint). The others would ground to nothing and are left out.
        """
        key = (inputs, trace)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        reachable = set(inputs)
        chosen = [False] * len(self.rules)
        progress = True
        while progress:
            progress = False
            for i, rule in enumerate(self.rules):
                if not chosen[i] and all(n in reachable for n in rule.needs):
                    chosen[i] = True
                    reachable.update(rule.head)
                    progress = True
        out: list[ast.AST] = list(self.static) + list(self.declarations)
        for i, rule in enumerate(self.rules):
            if chosen[i]:
                out.append(rule.statement)
                if trace:
                    out.extend(rule.twins)
        self._cache[key] = out
        return out


def _is_input(sig: Signature) -> bool:
    return sig[0].startswith(INPUT_PREFIX) or sig[0] in INPUT_NAMES


def _positive_needs(rule: ast.AST, dynamic: set[Signature]) -> list[Signature]:
    needs: list[Signature] = []
    for lit in rule.body:
        if (
            lit.ast_type == ast.ASTType.Literal
            and lit.sign == ast.Sign.NoSign
            and lit.atom.ast_type == ast.ASTType.SymbolicAtom
        ):
            sig = _signature(lit.atom.symbol)
            if sig is not None and sig in dynamic:
                needs.append(sig)
    return needs


def _split(collector: _Provenance) -> LoadedProgram:
    statements = collector.statements
    rules = [s for s in statements if s.ast_type == ast.ASTType.Rule]
    dynamic: set[Signature] = set()
    for stm in statements:
        if stm.ast_type == ast.ASTType.Defined and _is_input((stm.name, stm.arity)):
            dynamic.add((stm.name, stm.arity))
    for rule in rules:
        for sig in _head_atoms(rule) + _body_atoms(rule):
            if _is_input(sig):
                dynamic.add(sig)
    changed = True
    while changed:
        changed = False
        for rule in rules:
            heads = _head_atoms(rule)
            if any(h in dynamic for h in heads) or any(b in dynamic for b in _body_atoms(rule)):
                for h in heads:
                    if h not in dynamic:
                        dynamic.add(h)
                        changed = True
    for twins in collector.twins.values():
        for twin in twins:
            dynamic.update(_head_atoms(twin))
    add_k = _AddEncounter(dynamic)

    def with_k(rule: ast.AST) -> ast.AST:
        new = add_k(rule)
        loc = rule.location
        guard = ast.Literal(
            loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, ENCOUNTER, [ast.Variable(loc, ENCOUNTER_VAR)], 0))
        )
        return ast.Rule(new.location, new.head, [guard, *new.body])

    # Static predicates read by some rule body or shown; the rest (names,
    # labels, messages, sources) is documentation read once for the vocabulary.
    used: set[Signature] = set()
    for rule in rules:
        used.update(_body_atoms(rule))
    for twins in collector.twins.values():
        for twin in twins:
            used.update(_body_atoms(twin))
    shown = {(s.name, s.arity) for s in statements if s.ast_type == ast.ASTType.ShowSignature}
    used |= shown

    # Keyed reference tables: a row is needed only by encounters that name its
    # key (its first argument), so it is grounded only for them.
    keyed_tables: set[Signature] = set()
    for stm in rules:
        if not stm.body and stm.head.ast_type == ast.ASTType.Literal:
            term = stm.head.atom.symbol
            if _signature(term) == ("keyed_table", 2):
                name, arity = term.arguments
                keyed_tables.add((str(name), int(str(arity))))
    keyed: dict[str, list[ast.AST]] = {}

    static: list[ast.AST] = []
    documentation: list[ast.AST] = []
    declarations: list[ast.AST] = []
    encounter_rules: list[EncounterRule] = []
    for index, stm in enumerate(statements):
        t = stm.ast_type
        if t == ast.ASTType.Program:
            continue
        if t == ast.ASTType.Rule:
            heads = _head_atoms(stm)
            if not stm.body and heads and heads[0] in keyed_tables:
                key = str(stm.head.atom.symbol.arguments[0])
                keyed.setdefault(key, []).append(stm)
                documentation.append(stm)
                continue
            if any(sig in dynamic for sig in heads + _body_atoms(stm)):
                encounter_rules.append(
                    EncounterRule(
                        with_k(stm),
                        tuple(with_k(tw) for tw in collector.twins.get(index, [])),
                        tuple(h for h in heads if h in dynamic),
                        tuple(_positive_needs(stm, dynamic)),
                    )
                )
            elif any(h in used for h in heads):
                static.append(stm)
            else:
                documentation.append(stm)
        elif t == ast.ASTType.Defined:
            if (stm.name, stm.arity) in dynamic:
                declarations.append(ast.Defined(stm.location, stm.name, stm.arity + 1, stm.positive))
            else:
                static.append(stm)
        elif t == ast.ASTType.ShowSignature:
            if (stm.name, stm.arity) in dynamic:
                declarations.append(ast.ShowSignature(stm.location, stm.name, stm.arity + 1, stm.positive))
            else:
                declarations.append(stm)
        else:
            declarations.append(stm)
    # Every encounter predicate is declared, so that grounding a subset of the
    # rules raises no "undefined atom" messages.
    loc = statements[0].location
    declared = {(s.name, s.arity - 1) for s in declarations if s.ast_type == ast.ASTType.Defined}
    for sig in sorted(dynamic - declared):
        declarations.append(ast.Defined(loc, sig[0], sig[1] + 1, True))
    declarations.append(ast.Defined(loc, ENCOUNTER, 1, True))
    return LoadedProgram(static, documentation, declarations, encounter_rules, collector.marked, dynamic, keyed)


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
    static_marked = [m for m in collector.marked if m.signature not in program.dynamic]
    if static_marked:
        m = static_marked[0]
        raise KnowledgeBaseError(
            f"{m.file}:{m.line}: rule {m.rule_id} does not depend on the encounter; "
            "write it as reference data without a rule(...) marker"
        )
    return program


MessageLogger = Callable[[clingo.MessageCode, str], None]
