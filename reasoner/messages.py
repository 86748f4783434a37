"""Rules whose conclusions only the result reads, evaluated by the reasoner for an encounter
evaluated alone.

A message rule fills the message or the codes of one finding::

    finding_arg("necessity.max_studies", K, count, N) :-
        finding("necessity.max_studies", warning, K), study_amount(K, N).

A check rule names a conclusion the knowledge base must never reach::

    kb_fault("an add-on code without an eligible primary", A) :-
        code(A, _), cpt_addon(A), not addon_has_primary(A).

Nothing reads their heads but the result; a message rule can hold only when
its finding does, and a check rule never holds unless the knowledge base is
wrong. clingo's grounder costs about as much for a rule that does not fire
as for one that does (docs/performance.md), so an encounter evaluated alone
does not ground these rules: once the grounder has derived the encounter's
atoms, the reasoner evaluates the message rules of the findings that hold,
and every check rule, over the same atoms (:func:`evaluate`), each rule
compiled into Python loops over the indexed atoms (reasoner/derive.py). A batch
grounds them with the other rules, where their cost is shared by the batch;
tests/test_api.py checks that both ways, and the whole knowledge base
grounded as written, give the same results.

A rule is a message rule (:func:`finding_of`) when its head is
``finding_arg/4`` or ``finding_code/3``, its body holds one ``finding/3``
literal whose first argument is a string, and every body literal is a
positive atom. It is a check rule (:func:`is_check`) when its head is
``kb_fault/2`` and its body is made of positive atoms, negative atoms,
comparisons and ``#count``/``#sum``/``#min``/``#max`` aggregates whose conditions are positive
atoms, each variable of a negative atom, a comparison or an aggregate guard
bound by the positive atoms (or by an aggregate assigning it with ``=``)
before it. Every term is a constant, a variable, or a function or tuple of
such terms (no arithmetic). Any other rule is grounded as usual. The rules
are written and read as clingo rules: the evaluation here follows clingo's
semantics for this fragment over a stratified program whose lower strata are
settled, each atom true when it is true in the model, symbols compared in
clingo's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import clingo
from clingo import ast
from clingo._internal import _ffi, _handle_error, _lib

from . import terms
from .guards import OPERATORS

HEADS = frozenset({("finding_arg", 4), ("finding_code", 3)})
FINDING = ("finding", 3)
CHECK = ("kb_fault", 2)

_FUNCTIONS = {
    ast.AggregateFunction.Count: "count",
    ast.AggregateFunction.Sum: "sum",
    ast.AggregateFunction.SumPlus: "sum+",
    ast.AggregateFunction.Min: "min",
    ast.AggregateFunction.Max: "max",
}

# A term pattern: ("c", value) a constant (its clingo symbol value), ("v", name)
# a variable, ("_",) the anonymous variable, ("f", name, patterns) a function or
# tuple (name "") with variables inside.
Pattern = tuple[Any, ...]


def _supported(term: ast.AST) -> bool:
    kind = term.ast_type
    if kind in (ast.ASTType.SymbolicTerm, ast.ASTType.Variable):
        return True
    if kind == ast.ASTType.Function:
        return not term.external and all(_supported(a) for a in term.arguments)
    return False


def _atom_of(lit: ast.AST) -> ast.AST | None:
    """The function term of a positive atom literal, or None for anything else."""
    if lit.ast_type != ast.ASTType.Literal or lit.sign != ast.Sign.NoSign:
        return None
    atom = lit.atom
    if atom.ast_type != ast.ASTType.SymbolicAtom or atom.symbol.ast_type != ast.ASTType.Function:
        return None
    return atom.symbol


def finding_of(rule: ast.AST) -> str | None:
    """The finding whose message rule ``rule`` is (see the module documentation), or None."""
    if rule.ast_type != ast.ASTType.Rule or rule.head.ast_type != ast.ASTType.Literal:
        return None
    head = _atom_of(rule.head)
    if head is None or (head.name, len(head.arguments)) not in HEADS or not _supported(head):
        return None
    found: list[str] = []
    for lit in rule.body:
        atom = _atom_of(lit)
        if atom is None or not _supported(atom):
            return None
        if (atom.name, len(atom.arguments)) == FINDING:
            first = atom.arguments[0]
            if first.ast_type != ast.ASTType.SymbolicTerm or first.symbol.type != clingo.SymbolType.String:
                return None
            found.append(first.symbol.string)
    if len(found) != 1:
        return None
    return found[0]


def _anonymous(term: ast.AST) -> bool:
    """Whether a term holds an anonymous variable."""
    if term.ast_type == ast.ASTType.Variable:
        return term.name == "_"
    if term.ast_type == ast.ASTType.Function:
        return any(_anonymous(a) for a in term.arguments)
    return False


def _names(term: ast.AST) -> set[str]:
    """The named variables of a term (anonymous ones left out)."""
    if term.ast_type == ast.ASTType.Variable:
        return set() if term.name == "_" else {term.name}
    if term.ast_type == ast.ASTType.Function:
        return set().union(*(_names(a) for a in term.arguments)) if term.arguments else set()
    return set()


def _checked_body(body: list[ast.AST]) -> list[ast.AST] | None:
    """The body literals in evaluation order (positive atoms first, the others as written), or None
    if one is outside the fragment :func:`is_check` accepts or uses a variable not bound before it."""
    positive: list[ast.AST] = []
    others: list[ast.AST] = []
    for lit in body:
        if lit.ast_type != ast.ASTType.Literal:
            return None
        atom = lit.atom
        if atom.ast_type == ast.ASTType.SymbolicAtom:
            if atom.symbol.ast_type != ast.ASTType.Function or not _supported(atom.symbol):
                return None
            if lit.sign == ast.Sign.NoSign:
                positive.append(lit)
            elif lit.sign == ast.Sign.Negation:
                others.append(lit)
            else:
                return None
        elif atom.ast_type in (ast.ASTType.Comparison, ast.ASTType.BodyAggregate) and lit.sign == ast.Sign.NoSign:
            others.append(lit)
        else:
            return None
    bound: set[str] = set()
    for lit in positive:
        bound |= _names(lit.atom.symbol)
    for lit in others:
        atom = lit.atom
        if atom.ast_type == ast.ASTType.SymbolicAtom:
            if not _names(atom.symbol) <= bound:
                return None
        elif atom.ast_type == ast.ASTType.Comparison:
            if len(atom.guards) != 1 or not _supported(atom.term) or not _supported(atom.guards[0].term):
                return None
            if _anonymous(atom.term) or _anonymous(atom.guards[0].term):
                return None
            if not (_names(atom.term) | _names(atom.guards[0].term)) <= bound:
                return None
        else:
            if atom.function not in _FUNCTIONS or atom.right_guard is not None and atom.left_guard is not None:
                return None
            for element in atom.elements:
                local = set(bound)
                for cond in element.condition:
                    if cond.ast_type != ast.ASTType.Literal or cond.sign != ast.Sign.NoSign:
                        return None
                    if cond.atom.ast_type != ast.ASTType.SymbolicAtom or cond.atom.symbol.ast_type != ast.ASTType.Function:
                        return None
                    if not _supported(cond.atom.symbol):
                        return None
                    local |= _names(cond.atom.symbol)
                if not all(_supported(t) and not _anonymous(t) and _names(t) <= local for t in element.terms):
                    return None
            guard = atom.left_guard or atom.right_guard
            if guard is None or not _supported(guard.term) or _anonymous(guard.term):
                return None
            unbound = _names(guard.term) - bound
            if unbound:
                # only "N = #agg{...}" may bind a variable
                if guard.comparison != ast.ComparisonOperator.Equal or guard.term.ast_type != ast.ASTType.Variable:
                    return None
                bound |= unbound
    return positive + others


def _evaluable(rule: ast.AST) -> tuple[ast.AST, list[ast.AST]] | None:
    """The head atom and the body literals in evaluation order of a rule with one atom as its head,
    a body in the fragment of :func:`_checked_body`, and every head variable bound by the body;
    None for any other rule."""
    if rule.ast_type != ast.ASTType.Rule or rule.head.ast_type != ast.ASTType.Literal:
        return None
    head = _atom_of(rule.head)
    if head is None or not _supported(head) or _anonymous(head):
        return None
    ordered = _checked_body(list(rule.body))
    if ordered is None:
        return None
    bound: set[str] = set()
    for lit in ordered:
        atom = lit.atom
        if atom.ast_type == ast.ASTType.SymbolicAtom and lit.sign == ast.Sign.NoSign:
            bound |= _names(atom.symbol)
        elif atom.ast_type == ast.ASTType.BodyAggregate:
            bound |= _names((atom.left_guard or atom.right_guard).term)
    if not _names(head) <= bound:
        return None
    return head, ordered


def is_check(rule: ast.AST) -> bool:
    """Whether ``rule`` is a check rule (see the module documentation)."""
    found = _evaluable(rule)
    return found is not None and (found[0].name, len(found[0].arguments)) == CHECK


def _pattern(term: ast.AST) -> Pattern:
    kind = term.ast_type
    if kind == ast.ASTType.SymbolicTerm:
        return ("c", term.symbol._rep)
    if kind == ast.ASTType.Variable:
        return ("_",) if term.name == "_" else ("v", term.name)
    args = [_pattern(a) for a in term.arguments]
    if all(a[0] == "c" for a in args):
        symbol = clingo.Function(term.name, [clingo.Symbol(a[1]) for a in args])  # type: ignore[call-arg]
        return ("c", symbol._rep)
    return ("f", term.name, tuple(args))


# A body literal compiled: ("pos", name, patterns), ("neg", name, patterns),
# ("cmp", op, left, right), or ("agg", function, elements, op, guard, guard_left) with
# elements ((term patterns, condition literals), ...): guard op value when
# guard_left, else value op guard.
Literal = tuple[Any, ...]


def _literal(lit: ast.AST) -> Literal:
    atom = lit.atom
    if atom.ast_type == ast.ASTType.SymbolicAtom:
        kind = "pos" if lit.sign == ast.Sign.NoSign else "neg"
        return (kind, atom.symbol.name, tuple(_pattern(a) for a in atom.symbol.arguments))
    if atom.ast_type == ast.ASTType.Comparison:
        guard = atom.guards[0]
        return ("cmp", OPERATORS[guard.comparison], _pattern(atom.term), _pattern(guard.term))
    elements = tuple(
        (tuple(_pattern(t) for t in element.terms), tuple(_literal(c) for c in element.condition))
        for element in atom.elements
    )
    guard = atom.left_guard or atom.right_guard
    return ("agg", _FUNCTIONS[atom.function], elements, OPERATORS[guard.comparison], _pattern(guard.term), atom.left_guard is not None)


def portable_rule(rule: ast.AST) -> tuple[Any, ...] | None:
    """A rule with one atom as its head and a body in the fragment of :func:`_checked_body` as plain
    data that survives pickling: (head name, head argument patterns, body literals in evaluation
    order), with each constant as its text (a symbol's value is only good in its own process, see
    :func:`resolved`); None for any other rule. The loader keeps it for reasoner/bottomup.py."""
    found = _evaluable(rule)
    if found is None:
        return None
    head, ordered = found
    plain = (head.name, tuple(_pattern(a) for a in head.arguments), tuple(_literal(lit) for lit in ordered))
    return _texts(plain, lambda rep: ("C", str(clingo.Symbol(rep))))  # type: ignore[call-arg]


def resolved(portable: tuple[Any, ...]) -> tuple[Any, ...]:
    """A :func:`portable_rule` with its constants as symbol values again."""
    return _texts(portable, None)


def _texts(item: Any, out: Callable[[int], Any] | None) -> Any:
    """``item`` with each constant pattern ("c", value) turned into ("C", text) by ``out``, or back
    when ``out`` is None."""
    if not isinstance(item, tuple):
        return item
    if len(item) == 2 and out is not None and item[0] == "c" and isinstance(item[1], int):
        return out(item[1])
    if len(item) == 2 and out is None and item[0] == "C" and isinstance(item[1], str):
        return ("c", clingo.parse_term(item[1])._rep)
    return tuple(_texts(x, out) for x in item)


def compile_rule(text: str | tuple[Any, ...]) -> Any:
    """Compile the message or check rule written as ``text`` (one rule, as :func:`finding_of` or
    :func:`is_check` accepts), or kept as the loader's :func:`portable_rule` of one, into a
    derive.RulePlan: the rule's body as Python loops over indexed atoms (reasoner/derive.py)."""
    from .derive import compile_literals, compile_rule as compile_plan  # noqa: PLC0415 (derive builds on this module)

    if isinstance(text, tuple):
        name, head, literals = resolved(text)
        return compile_literals(name, head, list(literals))
    rules: list[ast.AST] = []
    ast.parse_string(text, lambda s: rules.append(s) if s.ast_type == ast.ASTType.Rule else None)
    (rule,) = rules
    plan = compile_plan(rule) if is_check(rule) or finding_of(rule) is not None else None
    if plan is None:
        raise ValueError(f"neither a message rule nor a check rule: {text}")
    return plan


class Compiled:
    """The rules the reasoner evaluates, by finding ("" for the check rules), each compiled the first
    time it is needed (a new process evaluating one encounter compiles only the few it meets)."""

    def __init__(self, texts: dict[str, list[str | tuple[Any, ...]]]) -> None:
        """``texts``: each finding's rules, as text or as the loader keeps them (:func:`compile_rule`)."""
        self._texts = texts
        self._compiled: dict[str, list[Any]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._texts

    def get(self, key: str, default: Any = ()) -> list[Any] | Any:
        found = self._compiled.get(key)
        if found is None:
            texts = self._texts.get(key)
            if texts is None:
                return default
            found = self._compiled[key] = [compile_rule(text) for text in texts]
        return found


def _match(pattern: Pattern, rep: int, binding: dict[str, int]) -> bool:
    """Whether the symbol ``rep`` matches ``pattern`` under ``binding`` (extended in place)."""
    kind = pattern[0]
    if kind == "c":
        return pattern[1] == rep
    if kind == "v":
        bound = binding.get(pattern[1])
        if bound is None:
            binding[pattern[1]] = rep
            return True
        return bound == rep
    if kind == "_":
        return True
    t = terms.term(rep)
    if t.type is not clingo.SymbolType.Function or t.name != pattern[1] or len(t.arguments) != len(pattern[2]):
        return False
    return all(_match(p, a._rep, binding) for p, a in zip(pattern[2], t.arguments))


def _build(pattern: Pattern, binding: dict[str, int]) -> int:
    """The symbol value of ``pattern`` with its variables bound."""
    kind = pattern[0]
    if kind == "c":
        return pattern[1]
    if kind == "v":
        return binding[pattern[1]]
    return terms.function(pattern[1], [_build(p, binding) for p in pattern[2]])


def _build_term(pattern: Pattern, binding: dict[str, int]) -> terms.Term:
    """The term of ``pattern`` with its variables bound (as :func:`_build`, its functions made as
    terms directly: see terms.function_term)."""
    kind = pattern[0]
    if kind == "c":
        return terms.term(pattern[1])
    if kind == "v":
        return terms.term(binding[pattern[1]])
    return terms.function_term(pattern[1], tuple([_build_term(p, binding) for p in pattern[2]]))


class Unsettled(Exception):
    """An atom the grounder did not settle (not a fact), met with no model to ask."""


class Atoms:
    """The true atoms of a grounded control, read by signature when first asked for.

    ``holds`` tells whether an atom the grounder did not settle is true (the
    model's verdict); without it such an atom raises :class:`Unsettled`. For
    a stratified program the grounder settles every atom.
    """

    def __init__(self, control: clingo.Control, holds: Callable[[int], bool] | None = None) -> None:
        self._atoms = control.symbolic_atoms._rep
        self._holds = holds
        self._read: dict[tuple[str, int], list[tuple[int, tuple[int, ...]]]] = {}
        self._values: dict[tuple[str, int, bool], list[int]] = {}
        self._reader = terms.AtomReader()
        self._sig = _ffi.new("clingo_signature_t*")
        self._it = _ffi.new("clingo_symbolic_atom_iterator_t*")
        self._end = _ffi.new("clingo_symbolic_atom_iterator_t*")
        self._flag = _ffi.new("bool*")
        self._sym = _ffi.new("clingo_symbol_t*")

    def of(self, name: str, arity: int) -> list[tuple[int, tuple[int, ...]]]:
        """The true atoms name/arity, each as its symbol value and its arguments' values."""
        key = (name, arity)
        found = self._read.get(key)
        if found is None:
            parts = self._reader.parts
            arguments = _ARGUMENTS
            if len(arguments) >= terms.TABLE_LIMIT:
                arguments.clear()
            found = []
            for rep in self.values(name, arity):  # read once: values keeps what it read
                args = arguments.get(rep)
                if args is None:
                    args = arguments[rep] = parts(rep)[1]
                found.append((rep, args))
            self._read[key] = found
        return found

    def values(self, name: str, arity: int, positive: bool = True) -> list[int]:
        """The symbol values of the true atoms name/arity (``-name`` unless ``positive``)."""
        key = (name, arity, positive)
        found = self._values.get(key)
        if found is not None:
            return found
        found = []
        atoms, p_sig, p_it, p_end, p_flag, p_sym = self._atoms, self._sig, self._it, self._end, self._flag, self._sym
        sig = _SIGNATURES.get(key)
        if sig is None:
            if not _lib.clingo_signature_create(name.encode(), arity, positive, p_sig):
                _handle_error(False)
            sig = _SIGNATURES[key] = p_sig[0]
        p_sig[0] = sig
        if not (_lib.clingo_symbolic_atoms_begin(atoms, p_sig, p_it) and _lib.clingo_symbolic_atoms_end(atoms, p_end)):
            _handle_error(False)
        holds = self._holds
        equal, symbol, is_fact, step = (
            _lib.clingo_symbolic_atoms_iterator_is_equal_to,
            _lib.clingo_symbolic_atoms_symbol,
            _lib.clingo_symbolic_atoms_is_fact,
            _lib.clingo_symbolic_atoms_next,
        )
        end = p_end[0]
        while True:
            if not equal(atoms, p_it[0], end, p_flag):
                _handle_error(False)
            if p_flag[0]:
                break
            if not (symbol(atoms, p_it[0], p_sym) and is_fact(atoms, p_it[0], p_flag)):
                _handle_error(False)
            rep = p_sym[0]
            if p_flag[0]:
                found.append(rep)
            elif holds is None:
                raise Unsettled(str(clingo.Symbol(rep)))  # type: ignore[call-arg]
            elif holds(rep):
                found.append(rep)
            if not step(atoms, p_it[0], p_it):
                _handle_error(False)
        self._values[key] = found  # kept once read in full (not when an atom was left open)
        return found


# signatures by name, arity and sign (a signature is a value clingo keeps for good)
_SIGNATURES: dict[tuple[str, int, bool], int] = {}
# an atom's arguments' symbol values by the atom's value (a symbol's value names it for good,
# see reasoner/terms.py; atoms recur from one evaluation to the next)
_ARGUMENTS: dict[int, tuple[int, ...]] = {}


def aggregate_value(function: str, tuples: list[tuple[int, ...]]) -> int:
    """The value (a symbol) of a #count, #sum, #sum+, #min or #max aggregate over its distinct
    element tuples: a count; the sum of the tuples' first terms that are integers (clingo leaves
    out the others; #sum+ also the negative ones); the least or greatest first term in clingo's
    order of symbols (#sup and #inf for no tuple)."""
    if function == "count":
        return clingo.Number(len(tuples))._rep
    if function in ("min", "max"):
        firsts = [t[0] for t in tuples if t]
        if not firsts:
            return (clingo.Supremum if function == "min" else clingo.Infimum)._rep
        best = firsts[0]
        for value in firsts[1:]:
            if _lib.clingo_symbol_is_less_than(value, best) if function == "min" else _lib.clingo_symbol_is_less_than(best, value):
                best = value
        return best
    total = 0
    for values in tuples:
        weight = terms.term(values[0]) if values else None
        if weight is not None and weight.type is clingo.SymbolType.Number and (function == "sum" or weight.number > 0):
            total += weight.number
    return clingo.Number(total)._rep


def evaluate(rules: Compiled | dict[str, list[Any]], findings: Iterable[str], facts: Any) -> list[tuple[str, tuple[int, ...]]]:
    """The head atoms (name, argument symbol values) the rules derive over ``facts`` (a
    derive.Indexed of the grounded atoms): the check rules (under ""), and the message ``rules`` of
    the ``findings`` that hold (their ids), without repeats, in the order derived."""
    out: dict[tuple[str, tuple[int, ...]], None] = {}
    for key in ("", *dict.fromkeys(findings)):
        for rule in rules.get(key, ()):
            derived: dict[tuple[int, ...], None] = {}
            rule.run(facts, derived)
            for args in derived:
                out[(rule.head, args)] = None
    return list(out)
