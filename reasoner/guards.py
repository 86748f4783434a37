"""Guards: conditions on an encounter's facts without which a rule cannot fire.

clingo's grounder costs about as much for a rule that fires as for one that
does not (docs/performance.md), so an encounter evaluated alone grounds only
the rules that can fire for it. The loader's selection by predicate
(LoadedProgram.select) leaves out a rule whose positive body names a
predicate nothing can derive; guards refine it by values. Each is derived
from one body literal of a rule and is a necessary condition for the rule to
fire, so leaving out a rule whose guard fails cannot change an answer
(tests/test_api.py checks single against batch grounding, where guards are
not used, over the corpus and generated encounters).

From a positive literal over an input predicate (``enc_...``):

- its constants: ``enc_role(technician)`` needs such a fact;
- a variable a positive reference literal also binds: ``enc_pos(P);
  facility_pos(P)`` needs a place of service among the facility ones;
- a variable a negative reference literal (of a table grounded in full)
  tests alone: ``enc_specialty(S); not expected_specialty(S)`` needs a
  specialty outside the expected ones.

The same from a positive literal over a derived predicate, checked against
the values each argument of the predicate can take (:class:`Values`): the
union, over the rules that define the predicate, of what the rule's head
puts there: a constant; or, for a variable, the values of the input
argument, derived argument or reference column that binds it in the body
(a reference column through the input or derived argument it is joined
with, or through the comparisons that relate it to one, as the codes in
force on the date of service are). Where nothing of that kind binds a head
variable (an aggregate, arithmetic) the argument can take any value.

Values are constants as text (clingo's own notation: ``"11"``, ``larynx``,
``3``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clingo import ast

Signature = tuple[str, int]
# What an argument can be: a set of constants as text, or None (any value).
ValueSet = frozenset[str] | None


@dataclass(frozen=True)
class Guard:
    """A condition on the facts of ``sig`` (input facts, or with ``derived`` the values a derived
    predicate's arguments can take).

    It holds when some fact of ``sig`` has the constants ``fixed`` (position,
    constant as text) and, where ``position`` is set, an argument there that
    is (``inside``) or is not (not ``inside``) one of ``values``. For a
    derived predicate the positions are checked one by one against what each
    can take.
    """

    sig: Signature
    fixed: tuple[tuple[int, str], ...] = ()
    position: int | None = None
    values: frozenset[str] = frozenset()
    inside: bool = True
    derived: bool = False

    def holds(self, rows: Sequence[Sequence[str]]) -> bool:
        """Whether one of ``rows`` (the arguments of the input facts of ``sig``, as text) meets it."""
        for args in rows:
            if all(args[i] == c for i, c in self.fixed) and (
                self.position is None or (args[self.position] in self.values) == self.inside
            ):
                return True
        return False


# Sources of the values a head argument can take (plain tuples, kept in the parsed-program cache):
#   ("values", frozenset)                    these constants
#   ("input", sig, position, fixed)          an argument of the input facts of sig with those constants
#   ("derived", sig, position)               what an argument of a derived predicate can take
#   ("map", source, table, every)            a reference column joined to another source's values
#   ("range", source, rows, comparisons)     a reference column filtered by comparisons with them
Source = tuple[Any, ...]

# clingo's comparison operators as written (shared by reasoner/loader.py and reasoner/messages.py)
OPERATORS = {
    ast.ComparisonOperator.LessThan: "<",
    ast.ComparisonOperator.LessEqual: "<=",
    ast.ComparisonOperator.GreaterThan: ">",
    ast.ComparisonOperator.GreaterEqual: ">=",
    ast.ComparisonOperator.Equal: "=",
    ast.ComparisonOperator.NotEqual: "!=",
}
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


# A derived guard flattened for checking: (index, ((argument, constant), ...),
# (argument, values, inside) or None), each argument a (predicate, position).
_Check = tuple[int, tuple[tuple[tuple[Signature, int], str], ...], tuple[tuple[Signature, int], frozenset[str], bool] | None]


@dataclass
class GuardSet:
    """The guards of a program's encounter rules, and where derived arguments take their values."""

    guards: list[Guard] = field(default_factory=list)
    # (derived predicate, position) -> the sources of its values, or None (any value)
    sources: dict[tuple[Signature, int], tuple[Source, ...] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._inputs = frozenset(g.sig for g in self.guards if not g.derived) | {
            s[1] for ss in self.sources.values() if ss for s in _walk(ss) if s[0] == "input"
        }
        # Arguments whose values do not depend on the input are worked out once
        # here, and the derived guards that read only those are decided here.
        self._fixed: dict[tuple[Signature, int], ValueSet] = {}
        self._dynamic: set[tuple[Signature, int]] = set()
        for key in self.sources:
            self._classify(key, set())
        # Each derived guard as a flattened check (see _passing): decided here when
        # it reads only such arguments, else on every evaluation.
        derived_checks: list[_Check] = [
            (
                i,
                tuple(((g.sig, q), c) for q, c in g.fixed),
                None if g.position is None else ((g.sig, g.position), g.values, g.inside),
            )
            for i, g in enumerate(self.guards)
            if g.derived
        ]
        static = [c for c in derived_checks if not any(k in self._dynamic for k in _check_keys(c))]
        self._always = frozenset(_passing(static, self._fixed))
        decided = {c[0] for c in static}
        self._derived_checked = [c for c in derived_checks if c[0] not in decided]
        self._inputs_checked = [i for i, g in enumerate(self.guards) if not g.derived]
        # The input-dependent arguments the checked guards read, each after
        # those its values come from (a dependency still missing when an
        # argument is worked out, through a cycle, counts as any value).
        plan: list[tuple[Signature, int]] = []
        placed: set[tuple[Signature, int]] = set()

        def place(key: tuple[Signature, int]) -> None:
            if key in placed or key not in self._dynamic:
                return
            placed.add(key)
            for source in _walk(self.sources.get(key) or ()):
                if source[0] == "derived":
                    place((source[1], source[2]))
            plan.append(key)

        for check in self._derived_checked:
            for key in _check_keys(check):
                place(key)
        self._plan = [(key, self.sources[key]) for key in plan]
        # results of range sources by the values they were filtered with (a date of
        # service recurs), keyed by the source's identity: the sources live as long as this set
        self._ranges: dict[int, dict[frozenset[str], frozenset[str]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_ranges"] = {}  # keyed by object identity: meaningless in another process
        return state

    def _classify(self, key: tuple[Signature, int], stack: set[tuple[Signature, int]]) -> bool:
        """Whether the values of ``key`` depend on the input (else they are stored in _fixed)."""
        if key in self._dynamic:
            return True
        if key in self._fixed:
            return False
        if key in stack:
            return False  # a predicate that depends on itself: any value (stored by the caller)
        sources = self.sources.get(key)
        if sources is None:
            self._fixed[key] = None
            return False
        stack = stack | {key}
        if any(self._depends(source, stack) for source in sources):
            self._dynamic.add(key)
            return True
        if key in self._fixed:  # set while a cycle through it was followed
            return False
        self._fixed[key] = _union([_evaluate(s, {}, self._fixed, {}) for s in sources])
        return False

    def _depends(self, source: Source, stack: set[tuple[Signature, int]]) -> bool:
        kind = source[0]
        if kind == "input":
            return True
        if kind == "derived":
            key = (source[1], source[2])
            if key in stack:
                self._fixed.setdefault(key, None)
                return False
            return self._classify(key, stack)
        if kind in ("map", "range"):
            return self._depends(source[1], stack)
        return False

    def satisfied(self, facts: Iterable[tuple[str, Sequence[Any]]]) -> frozenset[int]:
        """The guards (indexes into ``guards``) that the input ``facts`` (predicate, arguments as
        clingo symbols or terms) meet."""
        from .terms import term  # noqa: PLC0415

        rows: dict[Signature, list[tuple[str, ...]]] = {}
        for name, args in facts:
            sig = (name, len(args))
            if sig in self._inputs:
                rows.setdefault(sig, []).append(tuple([str(term(a._rep)) for a in args]))
        values: dict[tuple[Signature, int], ValueSet] = dict(self._fixed)
        for key, sources in self._plan:
            values[key] = None if sources is None else _union([_evaluate(s, rows, values, self._ranges) for s in sources])
        out = list(self._always)
        guards = self.guards
        for i in self._inputs_checked:
            g = guards[i]
            if g.sig in rows and g.holds(rows[g.sig]):
                out.append(i)
        out.extend(_passing(self._derived_checked, values))
        return frozenset(out)


def _check_keys(check: _Check) -> list[tuple[Signature, int]]:
    """The derived arguments (predicate, position) a check reads."""
    keys = [key for key, _ in check[1]]
    if check[2] is not None:
        keys.append(check[2][0])
    return keys


def _passing(checks: Sequence[_Check], values: Mapping[tuple[Signature, int], ValueSet]) -> list[int]:
    """The indexes of the derived guards that what each argument can take (``values``; an
    argument not among them, or with None, can take any value) meets: each constant among the
    values of its position, and the values at the checked position meeting (or, not
    ``inside``, not all in) the guard's values."""
    out = []
    for i, fixed, at in checks:
        for key, c in fixed:
            possible = values.get(key)
            if possible is not None and c not in possible:
                break
        else:
            if at is not None:
                possible = values.get(at[0])
                if possible is not None and (possible.isdisjoint(at[1]) if at[2] else possible <= at[1]):
                    continue
            out.append(i)
    return out


def _union(parts: Sequence[ValueSet]) -> ValueSet:
    """The union of value sets; any value if one of them is."""
    out: set[str] = set()
    for part in parts:
        if part is None:
            return None
        out |= part
    return frozenset(out)


def _walk(sources: Iterable[Source]) -> Iterable[Source]:
    for s in sources:
        yield s
        if s[0] in ("map", "range"):
            yield from _walk([s[1]])


def _evaluate(
    source: Source,
    rows: dict[Signature, list[tuple[str, ...]]],
    values: Mapping[tuple[Signature, int], ValueSet],
    ranges: dict[int, dict[frozenset[str], frozenset[str]]],
) -> ValueSet:
    """The values a source gives, from the input ``rows`` and the ``values`` of derived arguments
    worked out so far (one not among them: any value); ``ranges`` keeps range results."""
    kind = source[0]
    if kind == "values":
        return source[1]
    if kind == "input":
        _, sig, position, fixed = source
        return frozenset([r[position] for r in rows.get(sig, ()) if all(r[i] == c for i, c in fixed)])
    if kind == "derived":
        return values.get((source[1], source[2]))
    inner = _evaluate(source[1], rows, values, ranges)
    if kind == "map":
        _, _, table, every = source
        if inner is None:
            return every
        out: set[str] = set()
        for v in inner:
            out |= table.get(v, frozenset())
        return frozenset(out)
    # range: a reference row passes when its comparisons hold for one of the values (numbers)
    _, _, table_rows, comparisons = source
    if inner is None:
        return frozenset(x for x, _ in table_rows)
    memo = ranges.setdefault(id(source), {})
    found = memo.get(inner)
    if found is None:
        numbers = [int(v) for v in inner if _is_int(v)]
        passed: set[str] = set()
        for x, bound in table_rows:
            env = dict(bound)
            for y in numbers:
                env["\0"] = y
                if all(_holds(c, env) for c in comparisons):
                    passed.add(x)
                    break
        found = frozenset(passed)
        if len(memo) >= 1000:
            memo.clear()
        memo[inner] = found
    return found


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _holds(comparison: tuple[Any, str, Any], env: dict[str, int]) -> bool:
    left, op, right = comparison
    a = env.get(left) if isinstance(left, str) else left
    b = env.get(right) if isinstance(right, str) else right
    if a is None or b is None:
        return True  # not decided here
    return _COMPARE[op](a, b)


# --- derivation from the rules ----------------------------------------------------------


def constant(term: ast.AST) -> str | None:
    """A constant term (number, string, name, or a compound term without variables) as text."""
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return str(term.symbol)
    if (
        term.ast_type == ast.ASTType.Function
        and not term.external
        and term.name
        and all(constant(a) is not None for a in term.arguments)
    ):
        return str(term)
    return None


def _variable(term: ast.AST) -> str | None:
    if term.ast_type == ast.ASTType.Variable and term.name != "_":
        return str(term.name)
    return None


def _anonymous(term: ast.AST) -> bool:
    return term.ast_type == ast.ASTType.Variable and term.name == "_"


@dataclass
class _Body:
    """A rule's body literals sorted by kind (plain atoms only)."""

    inputs: list[tuple[Signature, list[ast.AST]]] = field(default_factory=list)
    derived: list[tuple[Signature, list[ast.AST]]] = field(default_factory=list)
    reference: list[tuple[Signature, list[ast.AST]]] = field(default_factory=list)
    negative_reference: list[tuple[Signature, list[ast.AST]]] = field(default_factory=list)
    comparisons: list[tuple[ast.AST, str, ast.AST]] = field(default_factory=list)


def _body(rule: ast.AST, dynamic: set[Signature], is_input: Callable[[Signature], bool], full: Callable[[Signature], bool]) -> _Body:
    body = _Body()
    for lit in rule.body:
        if lit.ast_type != ast.ASTType.Literal:
            continue
        atom = lit.atom
        if atom.ast_type == ast.ASTType.Comparison:
            if lit.sign == ast.Sign.NoSign and len(atom.guards) == 1:
                op = OPERATORS.get(atom.guards[0].comparison)
                if op is not None:
                    body.comparisons.append((atom.term, op, atom.guards[0].term))
            continue
        if atom.ast_type != ast.ASTType.SymbolicAtom:
            continue
        sym = atom.symbol
        if sym.ast_type != ast.ASTType.Function or sym.external:
            continue
        sig = (str(sym.name), len(sym.arguments))
        args = list(sym.arguments)
        if lit.sign == ast.Sign.NoSign:
            if sig not in dynamic:
                body.reference.append((sig, args))
            elif is_input(sig):
                body.inputs.append((sig, args))
            else:
                body.derived.append((sig, args))
        elif lit.sign == ast.Sign.Negation and sig not in dynamic and full(sig):
            body.negative_reference.append((sig, args))
    return body


class _Derivation:
    """Derives a program's guards and value sources from its encounter rules and reference data."""

    def __init__(
        self,
        rules: Sequence[ast.AST],
        heads: Sequence[Sequence[Signature]],
        dynamic: set[Signature],
        reference: dict[Signature, list[tuple[str, ...]]],
        keyed_tables: set[Signature],
        is_input: Callable[[Signature], bool],
    ) -> None:
        self.rules = rules
        self.heads = heads
        self.dynamic = dynamic
        self.reference = reference
        self.is_input = is_input
        self.bodies = [
            _body(r, dynamic, is_input, lambda sig: sig not in keyed_tables) if r.ast_type == ast.ASTType.Rule else None
            for r in rules
        ]

    def rows(self, sig: Signature, args: list[ast.AST]) -> list[tuple[str, ...]]:
        """The reference rows a literal can match, by its constants."""
        fixed = [(i, c) for i, c in ((i, constant(a)) for i, a in enumerate(args)) if c is not None]
        return [r for r in self.reference.get(sig, []) if all(r[i] == c for i, c in fixed)]

    # -- guards ----------------------------------------------------------------------------

    def guards(self, index: int) -> list[Guard]:
        body = self.bodies[index]
        if body is None:
            return []
        out: list[Guard] = []
        for derived, literals in ((False, body.inputs), (True, body.derived)):
            for sig, args in literals:
                fixed = tuple((i, c) for i, c in ((i, constant(a)) for i, a in enumerate(args)) if c is not None)
                if fixed:
                    out.append(Guard(sig, fixed, derived=derived))
                for position, arg in enumerate(args):
                    var = _variable(arg)
                    if var is None:
                        continue
                    for ref_sig, ref_args in body.reference:
                        at = [i for i, a in enumerate(ref_args) if _variable(a) == var]
                        if at:
                            values = frozenset(r[at[0]] for r in self.rows(ref_sig, ref_args))
                            out.append(Guard(sig, fixed, position, values, True, derived))
                    for ref_sig, ref_args in body.negative_reference:
                        named = [_variable(a) for a in ref_args]
                        if (
                            named.count(var) != 1
                            or any(n is not None and n != var for n in named)
                            or any(n is None and constant(a) is None and not _anonymous(a) for n, a in zip(named, ref_args))
                        ):
                            continue  # only a literal testing this one variable (with constants or _) is decided here
                        values = frozenset(r[named.index(var)] for r in self.rows(ref_sig, ref_args))
                        out.append(Guard(sig, fixed, position, values, False, derived))
        return out

    # -- value sources ---------------------------------------------------------------------

    def sources(self) -> dict[tuple[Signature, int], tuple[Source, ...] | None]:
        """For each argument of each derived predicate, where its values come from."""
        out: dict[tuple[Signature, int], list[Source] | None] = {}
        for rule, body, heads in zip(self.rules, self.bodies, self.heads):
            if rule.ast_type != ast.ASTType.Rule:
                continue
            head = rule.head
            plain = head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom
            if plain and head.atom.symbol.ast_type == ast.ASTType.Function:
                sym = head.atom.symbol
                sig = (str(sym.name), len(sym.arguments))
                if sig not in self.dynamic:
                    continue
                for position, arg in enumerate(sym.arguments):
                    key = (sig, position)
                    if key in out and out[key] is None:
                        continue
                    source = self.source_of_term(arg, body)
                    if source is None:
                        out[key] = None
                    else:
                        out.setdefault(key, []).append(source)  # type: ignore[union-attr]
            else:
                for sig in heads:
                    for position in range(sig[1]):
                        out[(sig, position)] = None
        return {k: (None if v is None else tuple(v)) for k, v in out.items()}

    def source_of_term(self, term: ast.AST, body: _Body | None) -> Source | None:
        value = constant(term)
        if value is not None:
            return ("values", frozenset([value]))
        var = _variable(term)
        if var is None or body is None:
            return None
        return self.source_of_variable(var, body, set())

    def source_of_variable(self, var: str, body: _Body, seen: set[str]) -> Source | None:
        for sig, args in body.inputs:
            for position, a in enumerate(args):
                if _variable(a) == var:
                    fixed = tuple((i, c) for i, c in ((i, constant(x)) for i, x in enumerate(args)) if c is not None)
                    return ("input", sig, position, fixed)
        for sig, args in body.derived:
            for position, a in enumerate(args):
                if _variable(a) == var:
                    return ("derived", sig, position)
        seen = seen | {var}
        for ref_sig, ref_args in body.reference:
            at = [i for i, a in enumerate(ref_args) if _variable(a) == var]
            if not at:
                continue
            r = at[0]
            rows = self.rows(ref_sig, ref_args)
            every = frozenset(row[r] for row in rows)
            # joined with another argument's values through a variable that a
            # positive input or derived literal binds (else another reference
            # literal, below)
            bound = {_variable(a) for _, args in body.inputs + body.derived for a in args} - {None}
            elsewhere = {
                _variable(a) for sig, args in body.reference if args is not ref_args for a in args
            } - {None}
            joined = self._joined(ref_args, r, rows, every, bound, body, seen)
            if joined is not None:
                return joined
            # or filtered by comparisons with one other variable's values
            names = {_variable(a): i for i, a in enumerate(ref_args) if _variable(a) is not None}
            for comparison in body.comparisons:
                other = {_variable(t) for t in (comparison[0], comparison[2])} - {None} - set(names)
                if len(other) != 1:
                    continue
                (outside,) = other
                related = [
                    c
                    for c in body.comparisons
                    if {_variable(t) for t in (c[0], c[2])} - {None} <= set(names) | {outside}
                    and all(_variable(t) is not None or _number(t) is not None for t in (c[0], c[2]))
                ]
                inner = self.source_of_variable(outside, body, seen)  # type: ignore[arg-type]
                if inner is None:
                    break
                compiled = tuple(
                    (_operand(c[0], outside), c[1], _operand(c[2], outside)) for c in related
                )
                table_rows = tuple(
                    (row[r], tuple((n, int(row[i])) for n, i in names.items() if _is_int(row[i])))  # type: ignore[misc]
                    for row in rows
                )
                return ("range", inner, table_rows, compiled)
            return self._joined(ref_args, r, rows, every, elsewhere, body, seen) or ("values", every)
        return None

    def _joined(
        self,
        ref_args: list[ast.AST],
        value: int,
        rows: list[tuple[str, ...]],
        every: frozenset[str],
        names: set[str | None],
        body: _Body,
        seen: set[str],
    ) -> Source | None:
        """Column ``value`` of a reference literal mapped from the values of another of its
        arguments, a variable among ``names`` whose own source is known; None if there is none."""
        for key, other in enumerate(ref_args):
            name = _variable(other)
            if name is None or name in seen or name not in names:
                continue
            inner = self.source_of_variable(name, body, seen)
            if inner is not None:
                table: dict[str, set[str]] = {}
                for row in rows:
                    table.setdefault(row[key], set()).add(row[value])
                return ("map", inner, {k: frozenset(v) for k, v in table.items()}, every)
        return None


def _number(term: ast.AST) -> int | None:
    if term.ast_type == ast.ASTType.SymbolicTerm and str(term.symbol).lstrip("-").isdigit():
        return int(str(term.symbol))
    return None


def _operand(term: ast.AST, outside: str) -> str | int:
    """A comparison operand: a variable's name (the outside one as "\\0"), or a number."""
    name = _variable(term)
    if name is not None:
        return "\0" if name == outside else name
    number = _number(term)
    assert number is not None
    return number


def derive(
    rules: Sequence[ast.AST],
    heads: Sequence[Sequence[Signature]],
    dynamic: set[Signature],
    reference: dict[Signature, list[tuple[str, ...]]],
    keyed_tables: set[Signature],
    is_input: Callable[[Signature], bool],
) -> tuple[GuardSet, list[tuple[int, ...]]]:
    """The guards of ``rules`` (the encounter rules as written, one statement each, with ``heads``
    the encounter predicates each defines) and, for each rule, the indexes of its guards."""
    derivation = _Derivation(rules, heads, dynamic, reference, keyed_tables, is_input)
    index: dict[Guard, int] = {}
    per_rule = []
    for i in range(len(rules)):
        per_rule.append(tuple(sorted({index.setdefault(g, len(index)) for g in derivation.guards(i)})))
    return GuardSet(sorted(index, key=index.__getitem__), derivation.sources()), per_rule
