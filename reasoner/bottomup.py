"""An encounter evaluated alone, by the reasoner: the rules run bottom-up, stratum by stratum.

The knowledge base's encounter rules are stratified (loader._is_stratified):
normal rules with one atom as their head, no predicate depending on itself
through a negative literal or an aggregate. Such a program has one answer set,
which is what clingo's grounder derives without solving, and which a
bottom-up evaluation in the order of the strata derives too: each predicate
is complete before a negative literal or an aggregate reads it, and a group
of predicates defined through each other (positive recursion) is run until
nothing new is derived.

For an encounter evaluated alone the reasoner does this itself instead of
grounding: each rule is compiled into Python loops over the atoms, indexed by
the arguments a body atom is looked up by (reasoner/derive.py, the same
compiler as the trace and the message rules), and run once its stratum's
inputs are settled. A rule whose positive body reads a predicate with no atom
cannot fire and is neither compiled nor run. With the trace, a marked rule's
compiled provenance twins stand in for it. A warm evaluation so costs about
4.5 M instructions in all, against 19.5 M for grounding it (a control holding
the reference data made for every evaluation, the grounding, reading the
atoms back); docs/performance.md, "Fifth round". Batches stay with clingo,
whose grounding is shared by the batch.

The evaluation follows clingo's semantics for the fragment the reasoner
evaluates (reasoner/messages.py: positive and negative atoms, comparisons,
#count/#sum/#sum+/#min/#max aggregates over positive conditions, terms that
are constants, variables, functions and tuples; no arithmetic, pools or
intervals). A knowledge base with a rule outside the fragment, or not
stratified, is grounded by clingo as before (:attr:`Stratified.available`);
so is every batch, and every evaluation asked for with ``derived=False``.
tests/test_bottomup.py compares both ways over the corpus and generated
encounters, and tests/test_api.py compares single evaluations with batches
and with the whole knowledge base grounded by clingo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import clingo

from . import derive
from .loader import LoadedProgram, Signature, is_prov_name
from .messages import resolved


@dataclass(frozen=True)
class Step:
    """The rules of one stratum's group of head predicates (``recursive``: the group reads itself)."""

    rules: tuple[int, ...]  # indexes into LoadedProgram.rules
    heads: frozenset[Signature]
    recursive: bool


class Store(derive.Indexed):
    """The atoms of one evaluation: the reference data (shared, see derive.Reference), the keyed
    rows of the keys the encounter names, and the encounter's facts and derived atoms, each
    predicate's atoms by their arguments' symbol values."""

    def __init__(self, reference: derive.Reference, keys: list[str]) -> None:
        super().__init__(self, reference, keys)  # type: ignore[arg-type]  # the store reads its own atoms (of)
        self._seen: dict[Signature, set[tuple[int, ...]]] = {}  # each predicate's argument values
        self._lists: dict[Signature, list[derive.Row]] = {}  # each predicate's atoms as rows
        self.nonempty: set[Signature] = set()  # the encounter predicates with an atom

    def of(self, name: str, arity: int) -> list[derive.Row]:
        return self._lists.get((name, arity), derive._NONE)

    def _held(self, sig: Signature) -> tuple[set[tuple[int, ...]], list[derive.Row]]:
        """The argument values and the rows of the atoms of ``sig`` held (made empty when first asked for)."""
        seen = self._seen.get(sig)
        if seen is None:
            seen = self._seen[sig] = set()
            rows: list[derive.Row] = []
            self._lists[sig] = rows
            return seen, rows
        return seen, self._lists[sig]

    def add(self, sig: Signature, arguments: Iterable[tuple[int, ...]], read: bool = False) -> bool:
        """Make the atoms sig(arguments) true; whether one of them is new. ``read``: the predicate
        may have been read already (a recursive step), so its indexes are built again when next read."""
        seen, rows = self._held(sig)
        name = sig[0]
        before = len(rows)
        value = derive.atom_value
        for args in arguments:
            if args not in seen:
                seen.add(args)
                rows.append((value(name, args), args))
        if len(rows) == before:
            return False
        self.nonempty.add(sig)
        if read:
            for key in [k for k in self._index if k[0] == name and k[1] == sig[1]]:
                del self._index[key]
            self._full.pop(sig, None)
        return True

    def add_atoms(self, sig: Signature, atoms: Iterable[tuple[int, tuple[int, ...]]]) -> None:
        """As :meth:`add` (``read`` false), the atoms given with their symbol values: each as (value,
        arguments)."""
        seen, rows = self._held(sig)
        before = len(rows)
        for atom in atoms:
            if atom[1] not in seen:
                seen.add(atom[1])
                rows.append(atom)
        if len(rows) > before:
            self.nonempty.add(sig)

    def values(self, sig: Signature) -> list[int]:
        """The symbol values of the true atoms of an encounter predicate."""
        return [rep for rep, _ in self._lists.get(sig, ())]


@dataclass(frozen=True)
class Strata:
    """The order the encounter rules run in, worked out when the knowledge base is loaded (and kept
    in its disk cache with it, reasoner/cache.py): the steps, each rule's head and the encounter
    predicates its positive body reads (with no atom of one, it cannot fire), and why the rules
    cannot be evaluated bottom-up, if they cannot."""

    steps: tuple[Step, ...]
    heads: dict[int, Signature]
    needs: dict[int, frozenset[Signature]]
    reasons: tuple[str, ...]


def plan_strata(program: LoadedProgram) -> Strata:
    """The :class:`Strata` of a loaded knowledge base's encounter rules (all but its message and
    check rules, which reasoner/messages.py evaluates): the groups of predicates defined through each
    other, in an order where a group comes after every group it reads."""
    import networkx as nx  # noqa: PLC0415

    indexes = [i for i, r in enumerate(program.rules) if not (r.message or r.check)]
    heads: dict[int, Signature] = {}
    needs: dict[int, frozenset[Signature]] = {}
    reasons = []
    graph: nx.DiGraph = nx.DiGraph()
    for i in indexes:
        rule = program.rules[i]
        if rule.portable is None:
            reasons.append(f"a rule is outside the fragment the reasoner evaluates: {rule.single}")
            continue
        name, head, literals = rule.portable
        sig = heads[i] = (name, len(head))
        graph.add_node(sig)
        positive = []
        for sig_read, is_positive in _reads(literals):
            if sig_read in program.dynamic:
                graph.add_edge(sig_read, sig)
                if is_positive:
                    positive.append(sig_read)
        needs[i] = frozenset(positive)
    heads_of: dict[Signature, list[int]] = {}
    for i, sig in heads.items():
        heads_of.setdefault(sig, []).append(i)
    condensed = nx.condensation(graph)
    steps = []
    # a topological order, made deterministic by the rules' order in the knowledge base
    for node in nx.lexicographical_topological_sort(
        condensed, key=lambda n: min((i for s in condensed.nodes[n]["members"] for i in heads_of.get(s, [])), default=-1)
    ):
        members = frozenset(condensed.nodes[node]["members"])
        rules = tuple(sorted(i for s in members for i in heads_of.get(s, [])))
        if not rules:
            continue
        recursive = len(members) > 1 or any(graph.has_edge(s, s) for s in members)
        steps.append(Step(rules, members, recursive))
    if len(reasons) > 3:  # a constant definition, say, leaves every rule out: name a few
        reasons[3:] = [f"and {len(reasons) - 3} more rules"]
    return Strata(tuple(steps), heads, needs, tuple(reasons))


class Stratified:
    """The encounter rules of a knowledge base in the order of their strata (:class:`Strata`), each
    compiled when first needed."""

    def __init__(self, program: LoadedProgram, static: Iterable[Signature]) -> None:
        """``static``: the predicates of the reference data."""
        self._program = program
        strata = program.strata if program.strata is not None else plan_strata(program)
        self._plans: dict[int, derive.RulePlan] = {}
        self._needs = strata.needs
        self._heads = strata.heads
        self.steps = strata.steps
        self._marked = frozenset(i for i, rule in enumerate(program.rules) if rule.marked)
        reasons = list(strata.reasons)
        if not program.stratified:
            reasons.insert(0, "the rules are not stratified")
        static = set(static)
        mixed = sorted({sig for sig in strata.heads.values() if sig in static})
        if mixed:
            reasons.append(f"predicates both reference data and derived: {mixed}")
        self.unavailable = "; ".join(reasons)
        self.available = not reasons
        self.shown = tuple(sig for sig in program.shown if not (is_prov_name(sig[0]) or sig[0] == "prov_member"))

    def plan(self, i: int) -> derive.RulePlan:
        plan = self._plans.get(i)
        if plan is None:
            name, head, literals = resolved(self._program.rules[i].portable)  # type: ignore[arg-type]
            plan = self._plans[i] = derive.compile_literals(name, head, list(literals))
        return plan

    def run(
        self,
        store: Store,
        facts: Iterable[tuple[str, tuple[clingo.Symbol, ...]]],
        twins: Callable[[int], derive.TwinPlan | None] | None = None,
    ) -> list[tuple[derive.TwinPlan, list[Any]]] | None:
        """Derive the encounter's atoms into ``store`` from its input ``facts``. With ``twins`` (the
        compiled twins of a marked rule, by index) a marked rule's twins stand in for it, their
        solutions giving its head atoms and its derivation records: returns the twins that fired,
        each with its solutions (for derive.records); None if a marked rule that can fire has no
        compiled twins. Without ``twins``, returns an empty list."""
        by_sig: dict[Signature, list[tuple[int, ...]]] = {}
        for name, args in facts:
            by_sig.setdefault((name, len(args)), []).append(tuple([a._rep for a in args]))
        for sig, rows in by_sig.items():
            store.add(sig, rows)
        nonempty = store.nonempty
        needs = self._needs
        marked = self._marked if twins is not None else frozenset()
        traced: list[tuple[derive.TwinPlan, list[Any]]] = []
        for step in self.steps:
            while True:
                derived: dict[Signature, dict[tuple[int, ...], None]] = {}
                # a recursive step's last round finds every solution the earlier rounds found
                step_traced: list[tuple[derive.TwinPlan, list[Any]]] = []
                for i in step.rules:
                    if not needs[i] <= nonempty:
                        continue
                    out: dict[tuple[int, ...], None] = {}
                    if i in marked:
                        twin = twins(i)  # type: ignore[misc]
                        if twin is None:
                            return None
                        solutions: list[Any] = []
                        twin.run(store, solutions)
                        if solutions:
                            step_traced.append((twin, solutions))
                            for solution in solutions:
                                out[solution[0]] = None
                    else:
                        self.plan(i).run(store, out)
                    if out:
                        sig = self._heads[i]
                        found = derived.get(sig)
                        if found is None:
                            derived[sig] = out
                        else:
                            found.update(out)
                new = False
                for sig, out in derived.items():
                    new = store.add(sig, out, step.recursive) or new
                if not (step.recursive and new):
                    traced.extend(step_traced)
                    break
        return traced


def _reads(literals: Iterable[Any]) -> Iterable[tuple[Signature, bool]]:
    """The predicates compiled body literals read, each with whether it is read by a positive
    atom of the body itself (not in an aggregate's condition, not negated)."""
    for lit in literals:
        kind = lit[0]
        if kind in ("pos", "neg"):
            yield (lit[1], len(lit[2])), kind == "pos"
        elif kind == "agg":
            for _, condition in lit[2]:
                for sig, _ in _reads(condition):
                    yield sig, False
