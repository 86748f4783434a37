"""The trace of an encounter evaluated alone, worked out by the reasoner from the grounded atoms.

With the trace, a marked rule is grounded as its provenance twin: a rule
with the same body whose head records the derivation (docs/knowledge-base.md,
"The rule marker and provenance"). For an encounter evaluated alone, whose
rules are stratified (loader._is_stratified), the grounder settles every
atom, so the derivations can be read off the atoms instead: the rules are
grounded as written, as without the trace, and for each chosen marked rule
the reasoner joins the twin's body over the true atoms and builds each
record the twin would have derived, and the aggregate members its member
twins would have derived. Grounding the twins costs about twice the rules
themselves; joining their bodies in Python over indexed atoms costs less.

The twins are compiled from their text (:func:`compile_twins`), so the
records cannot drift from what the grounder derives; a twin outside the
fragment the reasoner evaluates (reasoner/messages.py) leaves the whole
evaluation to the grounded twins. tests/test_derive.py checks that both ways
give the same derivations over the corpus and generated encounters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import clingo
from clingo import ast
from clingo._internal import _lib

from . import messages, terms
from .messages import Pattern, _atom_of, _build, _checked_body, _literal, _match, _pattern, aggregate_value
from .result import Derivation, new_derivation


@dataclass(frozen=True)
class TwinPlan:
    """A marked rule's twins compiled for :func:`derive`: ``run(facts, out)`` appends, for each
    way the rule's body holds, the head's argument values, the symbol values of the positive
    atoms matched (as the record lists them), of the absent atoms (``_`` as the constant any),
    the comparisons' values, and the aggregate members counted."""

    rule: str  # the rule id
    head: tuple[str, int]  # the head's predicate
    run: Callable[[Indexed, list[Any]], None]
    quoted: str  # the rule id as clingo writes the string
    source: str  # the generated code (for reading and tests)


def _vars(pattern: Pattern, out: set[str]) -> set[str]:
    kind = pattern[0]
    if kind == "v":
        out.add(pattern[1])
    elif kind == "f":
        for p in pattern[2]:
            _vars(p, out)
    return out


def _plain(pattern: Pattern, bound: set[str]) -> bool:
    """Whether the pattern's value is known under ``bound``: a constant, a bound variable, or a
    function of such."""
    kind = pattern[0]
    if kind == "c":
        return True
    if kind == "v":
        return pattern[1] in bound
    if kind == "_":
        return False
    return all(_plain(p, bound) for p in pattern[2])


def compile_twins(text: str) -> TwinPlan | None:
    """The plan of a marked rule's twins (``text``: its record twin and member twins, as the
    grounder gets them), or None when a twin is outside the fragment the reasoner evaluates."""
    rules: list[ast.AST] = []
    ast.parse_string(text, lambda s: rules.append(s) if s.ast_type == ast.ASTType.Rule else None)
    if not rules:
        return None
    record = rules[0]
    head = _atom_of(record.head)
    if head is None or len(head.arguments) != 5 or not head.name.startswith("_prov_"):
        return None
    ordered = _checked_body(list(record.body))
    if ordered is None or not messages._supported(head):
        return None
    rule_term, head_term, pos_term, neg_term, cmp_term = head.arguments
    if rule_term.ast_type != ast.ASTType.SymbolicTerm or rule_term.symbol.type != clingo.SymbolType.String:
        return None
    if head_term.ast_type == ast.ASTType.Function and head_term.name:
        head_name, head_patterns = head_term.name, tuple(_pattern(a) for a in head_term.arguments)
    elif head_term.ast_type == ast.ASTType.SymbolicTerm and head_term.symbol.type == clingo.SymbolType.Function:
        head_name, head_patterns = head_term.symbol.name, tuple(("c", a._rep) for a in head_term.symbol.arguments)
    else:
        return None
    literals = [_literal(lit) for lit in ordered]
    positive = [lit for lit in literals if lit[0] == "pos"]
    # the record lists the positive atoms as written, which is the order they are joined in
    if tuple(_pattern(a) for a in pos_term.arguments) != tuple(_atom_pattern(lit[1], lit[2]) for lit in positive):
        return None
    comparisons = []
    for c in cmp_term.arguments:
        if c.ast_type != ast.ASTType.Function or c.name != "cmp" or len(c.arguments) != 3:
            return None
        op = c.arguments[1]
        if op.ast_type != ast.ASTType.SymbolicTerm or op.symbol.type != clingo.SymbolType.String:
            return None
        comparisons.append((_pattern(c.arguments[0]), op.symbol.string, _pattern(c.arguments[2])))
    # member twins: one per positive atom of each #count/#sum/#sum+ condition
    members = [r for r in rules[1:] if (_atom_of(r.head) is not None and _atom_of(r.head).name == "prov_member")]
    traced = sum(
        1
        for lit in literals
        if lit[0] == "agg" and lit[1] in _TRACED
        for _, cond in lit[2]
        for c in cond
        if c[0] == "pos"
    )
    if len(members) != traced or len(rules) != 1 + len(members):
        return None
    absent = tuple(_pattern(a) for a in neg_term.arguments)
    source, env = _Generator().function(literals, head_patterns, absent, comparisons)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<twins of {rule_term.symbol.string}>", "exec"), env, namespace)  # noqa: S102 (code generated from the knowledge base, constants passed as values)
    return TwinPlan(
        rule_term.symbol.string,
        (head_name, len(head_patterns)),
        namespace["run"],
        terms.quote(rule_term.symbol.string),
        source,
    )


@dataclass(frozen=True)
class RulePlan:
    """A rule compiled for the reasoner: ``run(facts, out)`` sets ``out[args] = None`` for the
    argument values of each head atom the rule derives over ``facts`` (an :class:`Indexed`)."""

    head: str  # the head's predicate name
    run: Callable[[Indexed, dict[tuple[int, ...], None]], None]
    source: str  # the generated code


def compile_rule(rule: ast.AST) -> RulePlan | None:
    """The plan of a rule with one atom as its head and a body in the fragment the reasoner evaluates
    (reasoner/messages.py), or None."""
    head = _atom_of(rule.head) if rule.ast_type == ast.ASTType.Rule else None
    if head is None or not messages._supported(head):
        return None
    ordered = _checked_body(list(rule.body))
    if ordered is None:
        return None
    return compile_literals(head.name, tuple(_pattern(a) for a in head.arguments), [_literal(lit) for lit in ordered])


def compile_values(text: str, slots: tuple[str, ...]) -> RulePlan | None:
    """The plan of a marked rule's record twin (``text``: the twin as the grounder gets it) that
    gives, for each way its body holds, the values of the variables ``slots`` (the head arguments
    ``run`` sets), or None when the body is outside the fragment the reasoner evaluates."""
    parsed: list[ast.AST] = []
    ast.parse_string(text, parsed.append)
    record = next((s for s in parsed if s.ast_type == ast.ASTType.Rule), None)
    if record is None:
        return None
    loc = record.location
    values = ast.Function(loc, "values", [ast.Variable(loc, v) for v in slots], 0)
    return compile_rule(ast.Rule(loc, ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(values)), record.body))


def compile_literals(name: str, head: tuple[Pattern, ...], literals: list[Any]) -> RulePlan:
    """The plan of the rule name(head) :- literals (compiled by messages._literal, in evaluation order)."""
    source, env = _Generator().function(literals, head)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<rule {name}>", "exec"), env, namespace)  # noqa: S102 (code generated from the knowledge base, constants passed as values)
    return RulePlan(name, namespace["run"], source)


_TRACED = ("count", "sum", "sum+")  # the aggregates whose members the member twins record


def _atom_pattern(name: str, patterns: tuple[Pattern, ...]) -> Pattern:
    """The pattern of the atom name(patterns...), as messages._pattern makes it from its term."""
    if all(p[0] == "c" for p in patterns):
        return ("c", clingo.Function(name, [clingo.Symbol(p[1]) for p in patterns])._rep)  # type: ignore[call-arg]
    return ("f", name, patterns)


class _Generator:
    """Writes a rule body as nested Python loops over indexed atoms (a join in the order of the
    body: positive atoms first, each looked up by the arguments already known)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, str] = {}  # clingo variable -> Python local
        self.patterns: list[Pattern] = []  # patterns the code hands to helpers, by index
        self.counter = 0
        self.indexes: dict[tuple[str, int, tuple[int, ...]], str] = {}  # index -> Python local
        self.sets: dict[tuple[str, int], str] = {}  # full argument sets -> Python local

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def var(self, name: str) -> str:
        local = self.names.get(name)
        if local is None:
            local = self.names[name] = f"v{len(self.names)}"
        return local

    def pattern(self, p: Pattern) -> str:
        self.patterns.append(p)
        return f"P[{len(self.patterns) - 1}]"

    def value(self, p: Pattern) -> str:
        """An expression for the value of a pattern whose variables are bound."""
        kind = p[0]
        if kind == "c":
            return str(p[1])
        if kind == "v":
            return self.var(p[1])
        return f"BUILD({self.pattern(p)}, {self.binding(p)})"

    def binding(self, p: Pattern) -> str:
        names = sorted(_vars(p, set()))
        return "{" + ", ".join(f"{n!r}: {self.var(n)}" for n in names) + "}"

    @staticmethod
    def tuple_of(items: list[str]) -> str:
        if not items:
            return "()"
        return "(" + ", ".join(items) + ",)"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def function(
        self,
        literals: list[Any],
        head: tuple[Pattern, ...],
        absent: tuple[Pattern, ...] | None = None,
        comparisons: list[tuple[Pattern, str, Pattern]] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The source of ``run(F, out)`` and the names it needs. With ``absent`` and ``comparisons``
        (a twin) each solution appends its record's parts (see TwinPlan); without (a plain rule),
        the head's argument values."""
        self.emit(0, "def run(F, out):")
        self.emit(1, "index = F.index")
        self.emit(1, "full = F.full")
        start = len(self.lines)
        matched: list[str] = []
        members: list[str] = []
        depth = self.body(literals, 1, set(), matched, members)
        head_value = self.tuple_of([self.value(p) for p in head])
        if absent is None or comparisons is None:
            self.emit(depth, f"out[{head_value}] = None")
        else:
            absent_value = self.tuple_of(
                [self.value(p) if p[0] == "c" else f"ABSENT({self.pattern(p)}, {self.binding(p)})" for p in absent]
            )
            cmp_value = self.tuple_of(
                [f"({self.value(left)}, {op!r}, {self.value(right)})" for left, op, right in comparisons]
            )
            members_value = " + ".join(members) if members else "()"
            self.emit(
                depth,
                f"out.append(({head_value}, {self.tuple_of(matched)}, {absent_value}, {cmp_value}, {members_value}))",
            )
        # each index is fetched when first needed (a rule that does not fire reads nothing more)
        self.lines[start:start] = [
            "    " + f"{local} = None" for local in [*self.indexes.values(), *self.sets.values()]
        ]
        env = {
            "P": tuple(self.patterns),
            "BUILD": _build,
            "MATCH": _match,
            "LT": _lib.clingo_symbol_is_less_than,
            "AGG": aggregate_value,
            "ABSENT": _absent,
            "ANY_MATCH": _any_match,
            "NONE": _NONE,
        }
        return "\n".join(self.lines) + "\n", env

    def body(self, literals: list[Any], depth: int, bound: set[str], matched: list[str], members: list[str]) -> int:
        """Emit the steps of ``literals``; returns the depth of the innermost block."""
        for lit in literals:
            kind = lit[0]
            if kind == "pos":
                depth = self.positive(lit[1], lit[2], depth, bound, matched)
            elif kind == "neg":
                _, name, patterns = lit
                if all(_plain(p, bound) for p in patterns):
                    key = self.tuple_of([self.value(p) for p in patterns])
                    local = self.sets.setdefault((name, len(patterns)), f"s{len(self.sets)}")
                    self.emit(depth, f"if {local} is None:")
                    self.emit(depth + 1, f"{local} = full({name!r}, {len(patterns)})")
                    self.emit(depth, f"if {key} not in {local}:")
                elif all(p[0] == "_" or _plain(p, bound) for p in patterns):
                    pos = tuple(i for i, p in enumerate(patterns) if p[0] != "_")
                    key = self.tuple_of([self.value(patterns[i]) for i in pos])
                    local = self.fetch(name, len(patterns), pos, depth)
                    self.emit(depth, f"if {key} not in {local}:")
                else:
                    pats = self.pattern(("f", "", patterns))
                    names = set().union(*(_vars(p, set()) for p in patterns))
                    env = "{" + ", ".join(f"{n!r}: {self.var(n)}" for n in sorted(names)) + "}"
                    local = self.fetch(name, len(patterns), (), depth)
                    self.emit(depth, f"if not ANY_MATCH({pats}, {local}.get((), NONE), {env}):")
                depth += 1
            elif kind == "cmp":
                _, op, left, right = lit
                self.emit(depth, f"if {self.comparison(self.value(left), op, self.value(right))}:")
                depth += 1
            else:
                _, function, elements, op, guard, guard_left = lit
                found = self.fresh("t")
                counted = self.fresh("m") if function in _TRACED else None
                self.emit(depth, f"{found} = {{}}")
                if counted:
                    self.emit(depth, f"{counted} = []")
                for patterns, condition in elements:
                    inner = set(bound)
                    slots: list[str] = []
                    d = self.body(list(condition), depth, inner, slots, [])
                    self.emit(d, f"{found}[{self.tuple_of([self.value(p) for p in patterns])}] = None")
                    if counted and slots:
                        self.emit(d, f"{counted}.extend({self.tuple_of(slots)})")
                value = self.fresh("g")
                self.emit(depth, f"{value} = AGG({function!r}, list({found}))")
                if guard[0] == "v" and guard[1] not in bound:
                    self.emit(depth, f"{self.var(guard[1])} = {value}")
                    bound.add(guard[1])
                else:
                    g = self.value(guard)
                    test = self.comparison(g, op, value) if guard_left else self.comparison(value, op, g)
                    self.emit(depth, f"if {test}:")
                    depth += 1
                if counted:
                    members.append(counted)
        return depth

    @staticmethod
    def comparison(left: str, op: str, right: str) -> str:
        """The expression of ``left op right`` for two symbol values, in clingo's order of symbols
        (asked of clingo with one call)."""
        if op == "=":
            return f"{left} == {right}"
        if op == "!=":
            return f"{left} != {right}"
        if op == "<":
            return f"LT({left}, {right})"
        if op == ">":
            return f"LT({right}, {left})"
        if op == "<=":
            return f"not LT({right}, {left})"
        return f"not LT({left}, {right})"  # ">="

    def fetch(self, name: str, arity: int, key_pos: tuple[int, ...], depth: int) -> str:
        """Emit the fetching of an index when first needed; returns its local."""
        local = self.indexes.setdefault((name, arity, key_pos), f"i{len(self.indexes)}")
        self.emit(depth, f"if {local} is None:")
        self.emit(depth + 1, f"{local} = index({name!r}, {arity}, {self.tuple_of([str(i) for i in key_pos])})")
        return local

    def positive(
        self, name: str, patterns: tuple[Pattern, ...], depth: int, bound: set[str], matched: list[str]
    ) -> int:
        key_pos = tuple(i for i, p in enumerate(patterns) if _plain(p, bound))
        key = self.tuple_of([self.value(patterns[i]) for i in key_pos])
        rep, args = self.fresh("r"), self.fresh("a")
        local = self.fetch(name, len(patterns), key_pos, depth)
        self.emit(depth, f"for {rep}, {args} in {local}.get({key}, NONE):")
        depth += 1
        matched.append(rep)
        for i, p in enumerate(patterns):
            if i in key_pos or p[0] == "_":
                continue
            if p[0] == "v":
                if p[1] in bound:  # bound earlier in this atom
                    self.emit(depth, f"if {args}[{i}] == {self.var(p[1])}:")
                    depth += 1
                else:
                    self.emit(depth, f"{self.var(p[1])} = {args}[{i}]")
                    bound.add(p[1])
            else:  # a function with variables not bound yet
                env = self.fresh("b")
                known = sorted(n for n in _vars(p, set()) if n in bound)
                self.emit(depth, f"{env} = {{" + ", ".join(f"{n!r}: {self.var(n)}" for n in known) + "}")
                self.emit(depth, f"if MATCH({self.pattern(p)}, {args}[{i}], {env}):")
                depth += 1
                for n in sorted(_vars(p, set()) - bound):
                    self.emit(depth, f"{self.var(n)} = {env}[{n!r}]")
                    bound.add(n)
        return depth


def _any_match(patterns: Pattern, rows: list[Any], binding: dict[str, int]) -> bool:
    """Whether one of ``rows`` matches the argument ``patterns`` (a tuple pattern) under ``binding``."""
    for _, args in rows:
        scratch = dict(binding)
        if all(_match(p, a, scratch) for p, a in zip(patterns[2], args)):
            return True
    return False


Row = tuple[int, tuple[int, ...]]  # an atom's symbol value and its arguments' values


class Reference:
    """The reference atoms every control holds, and the keyed rows by key, read once, with indexes
    on argument positions kept for good (they are the same in every evaluation)."""

    def __init__(
        self, static: list[clingo.Symbol], keyed: dict[str, list[clingo.Symbol]], tables: set[tuple[str, int]]
    ) -> None:
        reader = terms.AtomReader()
        self.static: dict[tuple[str, int], list[Row]] = {}
        for sym in static:
            name, args = reader.parts(sym._rep)
            self.static.setdefault((name, len(args)), []).append((sym._rep, args))
        self.keyed: dict[str, list[tuple[tuple[str, int], Row]]] = {}
        for key, atoms in keyed.items():
            rows = self.keyed[key] = []
            for sym in atoms:
                name, args = reader.parts(sym._rep)
                rows.append(((name, len(args)), (sym._rep, args)))
        self.tables = frozenset(tables)
        self._index: dict[tuple[str, int, tuple[int, ...]], dict[tuple[int, ...], list[Row]]] = {}
        self._full: dict[tuple[str, int], frozenset[tuple[int, ...]]] = {}

    def index(self, name: str, arity: int, key_pos: tuple[int, ...]) -> dict[tuple[int, ...], list[Row]]:
        found = self._index.get((name, arity, key_pos))
        if found is None:
            found = self._index[(name, arity, key_pos)] = _index(self.static.get((name, arity), ()), key_pos)
        return found

    def full(self, name: str, arity: int) -> frozenset[tuple[int, ...]]:
        found = self._full.get((name, arity))
        if found is None:
            found = self._full[(name, arity)] = frozenset(args for _, args in self.static.get((name, arity), ()))
        return found


def _index(rows: Any, key_pos: tuple[int, ...]) -> dict[tuple[int, ...], list[Row]]:
    """``rows`` by the values of their arguments at ``key_pos``."""
    if not key_pos:
        return {(): list(rows)}
    ix: dict[tuple[int, ...], list[Row]] = {}
    if len(key_pos) == 1:
        (i,) = key_pos
        for row in rows:
            key = (row[1][i],)
            found = ix.get(key)
            if found is None:
                ix[key] = [row]
            else:
                found.append(row)
        return ix
    for row in rows:
        args = row[1]
        ix.setdefault(tuple([args[i] for i in key_pos]), []).append(row)
    return ix


class Indexed:
    """The true atoms of one evaluation by predicate, with indexes on argument positions: the
    reference atoms from :class:`Reference`, the keyed rows of the keys the evaluation named, and
    the rest read from the grounded control."""

    def __init__(self, atoms: messages.Atoms, reference: Reference, keys: list[str]) -> None:
        self._atoms = atoms
        self._reference = reference
        self._keys = keys
        self._keyed: dict[tuple[str, int], list[Row]] | None = None
        self._index: dict[tuple[str, int, tuple[int, ...]], dict[tuple[int, ...], list[Row]]] = {}
        self._full: dict[tuple[str, int], set[tuple[int, ...]] | frozenset[tuple[int, ...]]] = {}

    def _rows(self, name: str, arity: int) -> list[Row]:
        sig = (name, arity)
        if sig in self._reference.tables:
            keyed = self._keyed
            if keyed is None:
                keyed = self._keyed = {}
                for key in self._keys:
                    for s, row in self._reference.keyed.get(key, ()):
                        keyed.setdefault(s, []).append(row)
            return self._reference.static.get(sig, []) + keyed.get(sig, [])
        return self._atoms.of(name, arity)

    def index(self, name: str, arity: int, key_pos: tuple[int, ...]) -> dict[tuple[int, ...], list[Row]]:
        """The true atoms name/arity by the values of their arguments at ``key_pos``."""
        ix = self._index.get((name, arity, key_pos))
        if ix is None:
            if (name, arity) in self._reference.static and (name, arity) not in self._reference.tables:
                ix = self._reference.index(name, arity, key_pos)
            else:
                ix = _index(self._rows(name, arity), key_pos)
            self._index[(name, arity, key_pos)] = ix
        return ix

    def full(self, name: str, arity: int) -> set[tuple[int, ...]] | frozenset[tuple[int, ...]]:
        """The argument values of every true atom name/arity."""
        found = self._full.get((name, arity))
        if found is None:
            sig = (name, arity)
            if sig in self._reference.static and sig not in self._reference.tables:
                found = self._reference.full(name, arity)
            else:
                found = {args for _, args in self.index(name, arity, ()).get((), _NONE)}
            self._full[sig] = found
        return found


_NONE: list[tuple[int, tuple[int, ...]]] = []


def _tuple_text(items: list[str]) -> str:
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({','.join(items)})"


# derivations already built, by rule and the values in their record (bounded like result._DERIVATIONS)
_BUILT: dict[tuple[Any, ...], Derivation] = {}
_LIMIT = 50_000
# absent atoms built from their patterns, by pattern and variable values
_ABSENT: dict[tuple[Any, ...], int] = {}
# head atoms by name and argument values (a symbol's value names it for good, see reasoner/terms.py)
_HEADS: dict[tuple[str, tuple[int, ...]], int] = {}


def atom_value(name: str, args: tuple[int, ...]) -> int:
    """The symbol value of the atom name(args...) (``args``: symbol values), built once."""
    rep = _HEADS.get((name, args))
    if rep is None:
        if len(_HEADS) >= _LIMIT:
            _HEADS.clear()
        rep = _HEADS[(name, args)] = terms.function(name, args)  # one call into clingo
    return rep


def derive(
    plans: list[TwinPlan], facts: Indexed
) -> tuple[list[Derivation], dict[tuple[str, int], list[int]]]:
    """The derivation records the plans' twins derive over the grounded atoms ``facts``, each with
    its sort key (the text of its record, as result.read_derivations sorts them), and the aggregate
    members by rule id and head atom."""
    runs = []
    for plan in plans:
        solutions: list[Any] = []
        plan.run(facts, solutions)
        if solutions:
            runs.append((plan, solutions))
    return records(runs)


def records(
    runs: list[tuple[TwinPlan, list[Any]]],
) -> tuple[list[Derivation], dict[tuple[str, int], list[int]]]:
    """The derivation records of twins run (each plan with the solutions its ``run`` appended), as
    :func:`derive` returns them."""
    found: dict[str | None, Derivation] = {}
    members: dict[tuple[str, int], list[int]] = {}
    for plan, solutions in runs:
        name = plan.head[0]
        for args, pos, absent, cmps, counted in solutions:
            head = _HEADS.get((name, args))
            if head is None:
                head = atom_value(name, args)
            key = (plan.rule, head, pos, absent, cmps)
            built = _BUILT.get(key)
            if built is None:
                built = _record(plan, head, pos, absent, cmps)
                if len(_BUILT) >= _LIMIT:
                    _BUILT.clear()
                _BUILT[key] = built
            found[built._key] = built
            if counted:
                members.setdefault((plan.rule, head), []).extend(counted)
    return list(found.values()), members


def _absent(pattern: Pattern, binding: dict[str, int]) -> int:
    """The symbol value of an absent atom of a record (its variables bound), built once."""
    key = (pattern, tuple(sorted(binding.items())))
    rep = _ABSENT.get(key)
    if rep is None:
        if len(_ABSENT) >= _LIMIT:
            _ABSENT.clear()
        rep = _ABSENT[key] = _build(pattern, binding)
    return rep


def _record(
    plan: TwinPlan, head: int, pos: tuple[int, ...], absent: tuple[int, ...], cmps: tuple[tuple[int, str, int], ...]
) -> Derivation:
    term = terms.term
    head_t = term(head)
    facts = tuple([term(r) for r in pos])
    missing = tuple([term(r) for r in absent])
    comparisons = tuple([(term(left), op, term(right)) for left, op, right in cmps])
    text = (
        f"prov({plan.quoted},{head_t},{_tuple_text([str(f) for f in facts])},{_tuple_text([str(a) for a in missing])},"
        + _tuple_text([f"cmp({left},{terms.quote(op)},{right})" for left, op, right in comparisons])
        + ")"
    )
    return new_derivation(plan.rule, head_t, facts, missing, comparisons, (), text)  # type: ignore[arg-type]
