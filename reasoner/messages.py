"""Message rules evaluated by the reasoner for an encounter evaluated alone.

A message rule fills the message or the codes of one finding::

    finding_arg("necessity.max_studies", K, count, N) :-
        finding("necessity.max_studies", warning, K), study_amount(K, N).

Nothing reads its head but the result, and it can hold only when its finding
does. clingo's grounder costs about as much for a rule that does not fire
as for one that does (docs/performance.md), and most findings do not fire
for a given encounter, so an encounter evaluated alone does not ground these
rules: once the grounder has derived the encounter's atoms, the reasoner
evaluates the message rules of the findings that hold, over the same atoms
(:func:`evaluate`). A batch grounds them with the other rules, where their
cost is shared by the batch; tests/test_api.py checks that both ways, and
the whole knowledge base grounded as written, give the same results.

A rule is a message rule (:func:`finding_of`) when its head is
``finding_arg/4`` or ``finding_code/3``, its body holds one ``finding/3``
literal whose first argument is a string, every body literal is a positive
atom, and every term is a constant, a variable or a function or tuple of
such terms. Any other rule with such a head is grounded as usual. The rules
are written and read as clingo rules: the evaluation here is a plain
conjunctive query, each atom true when it is true in the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import clingo
from clingo import ast
from clingo._internal import _ffi, _handle_error, _lib

from . import terms

HEADS = frozenset({("finding_arg", 4), ("finding_code", 3)})
FINDING = ("finding", 3)

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


@dataclass(frozen=True)
class MessageRule:
    """A message rule compiled for :func:`evaluate`: the head's name and argument patterns, the
    pattern of its finding literal, and the other body atoms in order, each (name, patterns)."""

    finding: str
    head: tuple[str, tuple[Pattern, ...]]
    finding_args: tuple[Pattern, ...]
    body: tuple[tuple[str, tuple[Pattern, ...]], ...]


def compile_rule(text: str) -> MessageRule:
    """Compile the message rule written as ``text`` (one rule, as :func:`finding_of` accepts)."""
    rules: list[ast.AST] = []
    ast.parse_string(text, lambda s: rules.append(s) if s.ast_type == ast.ASTType.Rule else None)
    (rule,) = rules
    finding = finding_of(rule)
    if finding is None:
        raise ValueError(f"not a message rule: {text}")
    head = _atom_of(rule.head)
    finding_args: tuple[Pattern, ...] = ()
    body: list[tuple[str, tuple[Pattern, ...]]] = []
    for lit in rule.body:
        atom = _atom_of(lit)
        patterns = tuple(_pattern(a) for a in atom.arguments)
        if (atom.name, len(atom.arguments)) == FINDING and not finding_args:
            finding_args = patterns
        else:
            body.append((atom.name, patterns))
    return MessageRule(finding, (head.name, tuple(_pattern(a) for a in head.arguments)), finding_args, tuple(body))


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
    args = [clingo.Symbol(_build(p, binding)) for p in pattern[2]]  # type: ignore[call-arg]
    return clingo.Function(pattern[1], args)._rep


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
            found = self._read[key] = [(rep, parts(rep)[1]) for rep in self.values(name, arity)]
        return found

    def values(self, name: str, arity: int, positive: bool = True) -> list[int]:
        """The symbol values of the true atoms name/arity (``-name`` unless ``positive``)."""
        found: list[int] = []
        atoms, p_sig, p_it, p_end, p_flag, p_sym = self._atoms, self._sig, self._it, self._end, self._flag, self._sym
        key = (name, arity, positive)
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
        return found


# signatures by name, arity and sign (a signature is a value clingo keeps for good)
_SIGNATURES: dict[tuple[str, int, bool], int] = {}


def _solutions(
    body: tuple[tuple[str, tuple[Pattern, ...]], ...], i: int, binding: dict[str, int], atoms: Atoms
) -> Iterator[dict[str, int]]:
    if i == len(body):
        yield binding
        return
    name, patterns = body[i]
    for _, args in atoms.of(name, len(patterns)):
        extended = dict(binding)
        if all(_match(p, a, extended) for p, a in zip(patterns, args)):
            yield from _solutions(body, i + 1, extended, atoms)


def evaluate(
    rules: dict[str, list[MessageRule]], findings: list[tuple[int, ...]], atoms: Atoms
) -> list[tuple[str, tuple[int, ...]]]:
    """The head atoms (name, argument symbol values) the message ``rules`` (by finding) derive for
    the ``findings`` that hold (each the symbol values of a finding/3 atom's arguments), without
    repeats, in the order derived."""
    out: dict[tuple[str, tuple[int, ...]], None] = {}
    for args in findings:
        first = terms.term(args[0])
        for rule in rules.get(first.string, ()):
            binding: dict[str, int] = {}
            if not all(_match(p, a, binding) for p, a in zip(rule.finding_args, args)):
                continue
            name, patterns = rule.head
            for solution in _solutions(rule.body, 0, binding, atoms):
                out[(name, tuple(_build(p, solution) for p in patterns))] = None
    return list(out)
