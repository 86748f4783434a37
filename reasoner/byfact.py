"""The derivations of a traced batch's fact rules and entry groups, worked out by the reasoner per input fact or entry.

A fact rule (loader._fact_of) depends on the encounter through one input fact at a time: its body
holds one positive input literal, reference data, comparisons, and negated input literals that
the positive one decides (``in_force(C) :- cpt_code(C,F,T); enc_date(D); F <= D; D <= T.``;
``emg_root(I,R) :- enc_emg(I,M,_); muscle_root(M,R); not enc_emg_root(I,_).``). Its derivations
through one fact are the same in every encounter that has the fact and none that blocks it (a
fact of a negated literal with the fact's values). About half of a traced encounter's
derivations are of such rules (the codes in force on the date, each muscle's region, nerve and
roots, each study). A traced batch grounds them as written, as without the trace, and the
reasoner gives each encounter the derivations of its facts: worked out once per fact and kept, so
that a fact met again (a date, a muscle entry) costs a lookup instead of records grounded and read
back. A fact not met before is joined with the reference data by the rule's record twin compiled
to give the values of its variables (derive.compile_values), and each derivation rebuilt from
them as a batch record is (engine._Rebuild, which keeps the atoms it made: a new date's 31 codes
in force share all but the date's atoms with those of other dates). A fact whose value the rule
only compares with numbers of the reference data is joined once per class of such values
(_Compared: the codes in force are the same for every date between the same two of the codes'
first and last dates), a new value of a class met given the class's values with its own put in.

An entry group (loader._entry_groups) is the same one step further: rules that read one entry
(the needle EMG entry I) through input facts and the heads of the group's rules on that entry
(``limb_entry(I,L) :- enc_emg(I,_,S); emg_region(I,G); limb_of(G,S,L).``). Their derivations
through an entry are those of the group's rules run, in the order of their strata, over the input
facts that hold the entry's value where the group reads it: worked out once per such facts
(_run_entry) and kept the same way. A group whose rules only join on the entry
(loader._placeable) is run once over an entry's facts with a placeholder in place of the entry's
value, and an entry with the same facts at another index is rebuilt from the values kept, its own
value put in (_placed). Each group of rules keeps its derivations apart (_Generations).
tests/test_byfact.py compares batches with encounters evaluated alone.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import clingo

from . import bottomup, derive, messages, terms
from .loader import Blocker, LoadedProgram, Signature
from .result import Derivation

Kept = list[Derivation]  # the derivations through one fact


class Part(list):  # type: ignore[type-arg]
    """The derivations kept for one fact or entry (a list), with what a reader worked out from them
    and keeps with them while they are kept (``read``: engine._count_members, the aggregate members
    among them)."""

    __slots__ = ("read",)

    def __init__(self, derivations: Kept) -> None:
        super().__init__(derivations)
        self.read: Any = None

# the derivations kept, by fact or entry, for each group of rules (a fact signature's fact rules, an
# entry group) apart: each of its two generations holds about this many derivations (one met again in
# the older moves to the newer; once the newer holds this many, the older is dropped at the next
# batch). Counted in derivations, not facts: a date's codes in force are about thirty. Apart, so
# that a stream of new dates, each with its codes in force, does not push out the entries met.
KEPT_LIMIT = 50_000


class _Generations:
    """The derivations one group of rules keeps, in two generations (see KEPT_LIMIT)."""

    __slots__ = ("newer", "older", "count")

    def __init__(self) -> None:
        self.newer: dict[Any, Kept] = {}
        self.older: dict[Any, Kept] = {}
        self.count = 0  # the derivations the newer generation holds

    def turn(self) -> None:
        """The older generation dropped for the newer, if the newer is full."""
        if self.count >= KEPT_LIMIT:
            self.older, self.newer, self.count = self.newer, {}, 0


class FactRule:
    """A fact rule: its index in the knowledge base's rules, its fact's signature, and its blockers
    as (signature, the argument positions that are not ``_``, each as ("v", i) the fact's argument
    i or ("c", value) a constant's symbol value)."""

    __slots__ = ("index", "fact", "blockers")

    def __init__(self, index: int, fact: Signature, blockers: tuple[Blocker, ...]) -> None:
        self.index = index
        self.fact = fact
        self.blockers = tuple(
            (
                (name, arity),
                tuple(i for i, s in enumerate(spec) if s is not None),
                tuple(s if s[0] == "v" else ("c", clingo.parse_term(s[1])._rep) for s in spec if s is not None),
            )
            for name, arity, spec in blockers
        )

    def blocked(
        self, values: tuple[int, ...], given: dict[Signature, set[tuple[int, ...]]], seen: dict[Any, Any]
    ) -> bool:
        """Whether an encounter whose facts are ``given`` (argument values by signature) has a fact
        of a negated literal of the rule, with the values of the fact ``values`` (``seen``: the
        encounter's facts projected on argument positions, made when first asked for)."""
        for sig, positions, parts in self.blockers:
            rows = given.get(sig)
            if not rows:
                continue
            if not positions:
                return True
            projected = seen.get((sig, positions))
            if projected is None:
                projected = seen[(sig, positions)] = {tuple([row[i] for i in positions]) for row in rows}
            if tuple([values[p] if kind == "v" else p for kind, p in parts]) in projected:
                return True
        return False


class _Compared:
    """Where a fact rule's fact holds values the rule only compares with numbers: the codes in force
    on a date (``in_force(C) :- cpt_code(C,F,T); enc_date(D); F <= D; D <= T.``) are the same, but
    for the date itself, for every date between the same two of the numbers the dates are compared
    with (the codes' first and last dates). For each such position of the fact: the record slot of
    its variable and the numbers it is compared with, sorted; and the values of the rule's variables
    through the first fact met of each class, by class (see :meth:`key`)."""

    __slots__ = ("positions", "solutions")

    def __init__(self, positions: tuple[tuple[int, int, list[int]], ...]) -> None:
        self.positions = positions  # (position in the fact, slot in the record, numbers)
        self.solutions: dict[tuple[Any, ...], tuple[tuple[int, ...], list[tuple[int, ...]]]] = {}

    def key(self, values: tuple[int, ...]) -> tuple[Any, ...] | None:
        """The class of the fact ``values``: its values at the other positions, and at each compared
        one where the number falls among the numbers it is compared with (below which, whether equal
        to it); None if a compared value is not a number."""
        key: list[Any] = list(values)
        for position, _, numbers in self.positions:
            t = terms.term(values[position])
            if t.type is not clingo.SymbolType.Number:
                return None
            at = bisect_left(numbers, t.number)
            key[position] = (at, at < len(numbers) and numbers[at] == t.number)
        return tuple(key)

    def moved(self, first: tuple[int, ...], values: tuple[int, ...], solutions: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """The values of the rule's variables through the fact ``values``, from those through the
        fact ``first`` of the same class: the compared values put in their slots."""
        out = [list(v) for v in solutions]
        for position, slot, _ in self.positions:
            if first[position] != values[position]:
                for v in out:
                    v[slot] = values[position]
        return [tuple(v) for v in out]


def _compared(program: LoadedProgram, rule: FactRule, reference: derive.Reference) -> _Compared | None:
    """The positions of a fact rule's fact whose variable the rule only compares with numbers of the
    reference data or number constants (see :class:`_Compared`), or None if there are none. A
    variable qualifies if it stands once in the fact and in no other literal but comparisons (each
    with the variable on one side, and on the other a number or a variable that a positive literal
    of the static reference data binds, whose every value there is a number), and in the rule's
    record; every value it is then compared with is among those numbers."""
    marked = program.rules[rule.index]
    if marked.portable is None or marked.record is None:
        return None
    _, _, literals = messages.resolved(marked.portable)
    slots = marked.record[1]
    fact = [lit for lit in literals if lit[0] == "pos" and (lit[1], len(lit[2])) == rule.fact]
    if len(fact) != 1:
        return None
    others = [lit for lit in literals if lit is not fact[0]]
    positions = []
    for position, pattern in enumerate(fact[0][2]):
        if pattern[0] != "v" or fact[0][2].count(pattern) != 1 or pattern[1] not in slots:
            continue
        variable = pattern[1]
        numbers: set[int] = set()
        for lit in others:
            if lit[0] in ("pos", "neg"):
                if variable in derive._vars(("f", lit[1], lit[2]), set()):
                    break  # read by another literal: its value counts
                continue
            if lit[0] != "cmp":
                break
            left, right = lit[2], lit[3]
            if variable not in derive._vars(left, derive._vars(right, set())):
                continue
            other = right if left == pattern else left if right == pattern else None
            found = None if other is None else _numbers(other, others, reference)
            if found is None:
                break
            numbers |= found
        else:
            if numbers:
                positions.append((position, slots.index(variable), sorted(numbers)))
    return _Compared(tuple(positions)) if positions else None


def _numbers(pattern: Any, literals: list[Any], reference: derive.Reference) -> set[int] | None:
    """The numbers ``pattern`` (a comparison's other side) can stand for: a number constant, or every
    value of a variable at an argument of a positive literal of the static reference data; None if
    one of them is not a number, or the pattern is anything else."""
    values: set[int] | None = None
    if pattern[0] == "c":
        values = {pattern[1]}
    elif pattern[0] == "v":
        for lit in literals:
            if lit[0] != "pos" or (lit[1], len(lit[2])) not in reference.static or (lit[1], len(lit[2])) in reference.tables:
                continue
            if pattern in lit[2]:
                at = lit[2].index(pattern)
                values = {args[at] for args in reference.full(lit[1], len(lit[2]))}
                break
    if values is None:
        return None
    numbers = set()
    for rep in values:
        t = terms.term(rep)
        if t.type is not clingo.SymbolType.Number:
            return None
        numbers.add(t.number)
    return numbers


class _Group:
    """The chosen fact rules of one fact signature in a selection: a number naming the group in
    the kept derivations' keys, the rules, and the signatures of their blockers."""

    __slots__ = ("number", "rules", "blocking")

    def __init__(self, number: int, rules: tuple[FactRule, ...]) -> None:
        self.number = number
        self.rules = rules
        self.blocking = frozenset(b[0] for r in rules for b in r.blockers)


class _Entries:
    """The chosen rules of one entry group (loader.EntryGroup) in a selection: a number naming
    them in the kept derivations' keys, the rules in the order they run, the input predicates
    they read with the argument position that holds the entry, and, if the rules only join on the
    entry (EntryGroup.placeable), that position by predicate."""

    __slots__ = ("number", "rules", "reads", "place")

    def __init__(
        self,
        number: int,
        rules: tuple[tuple[int, int], ...],
        reads: tuple[tuple[Signature, int], ...],
        placeable: bool = False,
    ) -> None:
        self.number = number
        self.rules = rules  # each rule's index and the slot of the entry's variable in its record
        self.reads = reads
        self.place = dict(reads) if placeable else None


# the values of an entry group's variables through an entry's facts, the entry's value replaced by
# this placeholder (FactRules._placed): a symbol no knowledge base or encounter names
PLACEHOLDER = clingo.Function("_cptkb_entry")._rep
# entries' facts whose values with the placeholder are kept at most, and classes of a fact rule's
# compared values (_Compared.solutions), each emptied when full
PLACED_LIMIT = 20_000

# the fact rules by fact signature, the signatures their facts and blockers have, and the entry groups
Chosen = tuple[dict[Signature, _Group], frozenset[Signature], tuple[_Entries, ...]]


class _OneFact(derive.Indexed):
    """The reference data and one input fact, for a fact rule's compiled twin."""

    def __init__(self, reference: derive.Reference, keys: list[str]) -> None:
        super().__init__(self, reference, keys)  # type: ignore[arg-type]  # it reads its own fact (of)
        self._held: dict[Signature, list[derive.Row]] = {}

    def of(self, name: str, arity: int) -> list[derive.Row]:
        return self._held.get((name, arity), derive._NONE)

    def hold(self, sig: Signature, values: tuple[int, ...]) -> None:
        """Make the one fact sig(values) the only input fact."""
        self._held = {sig: [(derive.atom_value(sig[0], values), values)]}

    def index(self, name: str, arity: int, key_pos: tuple[int, ...]) -> dict[tuple[int, ...], list[derive.Row]]:
        held = self._held.get((name, arity))
        if held is not None:  # the fact, indexed each time (one row): nothing kept to undo
            return derive._index(held, key_pos)
        return super().index(name, arity, key_pos)

    def full(self, name: str, arity: int) -> set[tuple[int, ...]] | frozenset[tuple[int, ...]]:
        held = self._held.get((name, arity))
        if held is not None:
            return {args for _, args in held}
        return super().full(name, arity)


class _EntryStore(bottomup.Store):
    """The reference data and the input facts of one entry, with the atoms the entry group's
    rules derive from them; emptied for the next entry (the reference data's indexes kept)."""

    def __init__(self, reference: derive.Reference, keys: list[str]) -> None:
        super().__init__(reference, keys)
        self._kept = reference.static.keys() | reference.tables

    def reset(self) -> None:
        self._seen = {}
        self._lists = {}
        self.nonempty = set()
        kept = self._kept
        for key in [k for k in self._index if (k[0], k[1]) not in kept]:
            del self._index[key]
        for sig in [s for s in self._full if s not in kept]:
            del self._full[sig]


class FactRules:
    """The fact rules and entry groups of a knowledge base, and the derivations through each fact
    and entry met, kept."""

    def __init__(
        self,
        program: LoadedProgram,
        rebuild: Callable[[int], Any],
        reference: Callable[[], derive.Reference],
    ) -> None:
        """``rebuild``: for a marked rule's index, what rebuilds a derivation from the values of its
        variables (``run(values)``: the derivation, with its sort key); ``reference``: the reference
        data."""
        self._program = program
        self._rules = {i: FactRule(i, *rule.fact) for i, rule in enumerate(program.rules) if rule.fact is not None}
        self._rebuild = rebuild
        self._reference = reference
        # each rule's encounter predicates its positive body reads (bottomup.Strata.needs)
        self._needs = program.strata.needs if program.strata is not None else bottomup.plan_strata(program).needs
        # each rule's record twin compiled to give the values of its variables, and its rebuilder
        self._plans: dict[int, tuple[derive.RulePlan, Any]] = {}
        # the derivations kept, by group number: for a fact signature's rules by fact values and which
        # rules the encounter blocks, for an entry group by the entry's facts and value
        self.kept: dict[int, _Generations] = {}
        # the chosen fact rules of a selection by its marked rules (LoadedProgram.marked_chosen), and
        # each group's number by its rules (the same rules keep their number from batch to batch)
        self._chosen: dict[tuple[int, ...], Chosen] = {}
        self._numbers: dict[tuple[int, ...], int] = {}
        # by entry group number and an entry's facts with the placeholder (see _placed)
        self._placed_runs: dict[Any, list[tuple[Any, tuple[int, ...]]]] = {}
        # by fact rule index, where its fact holds values it only compares with numbers (see _work_out)
        self._compared: dict[int, _Compared | None] = {}

    def chosen(self, marked: tuple[int, ...]) -> Chosen:
        """The fact rules among a batch's chosen marked rules, grouped by their fact's signature, the
        signatures of the input facts they read (facts and blockers), and the chosen rules of each
        entry group."""
        found = self._chosen.get(marked)
        if found is None:
            if len(self._chosen) >= 256:
                self._chosen.clear()
            by_fact: dict[Signature, list[FactRule]] = {}
            for i in marked:
                rule = self._rules.get(i)
                if rule is not None:
                    by_fact.setdefault(rule.fact, []).append(rule)
            groups = {}
            for sig, rules in by_fact.items():
                indexes = tuple(r.index for r in rules)
                number = self._numbers.setdefault(indexes, len(self._numbers))
                groups[sig] = _Group(number, tuple(rules))
            read = {s for g in groups.values() for r in g.rules for s in (r.fact, *(b[0] for b in r.blockers))}
            chosen = set(marked)
            entries = []
            for group in self._program.entries:
                pairs = tuple((i, slot) for i, slot in zip(group.rules, group.slots) if i in chosen)
                if pairs:
                    number = self._numbers.setdefault(tuple(i for i, _ in pairs), len(self._numbers))
                    entries.append(_Entries(number, pairs, group.reads, group.placeable))
            found = self._chosen[marked] = (groups, frozenset(read), tuple(entries))
        return found

    def derivations(
        self,
        chosen: Chosen,
        facts: list[list[tuple[str, tuple[Any, ...]]]],
        keys: list[str],
        found: list[list[Derivation]],
        parts: list[list[Part]] | None = None,
        producers: frozenset[int] = frozenset(),
    ) -> None:
        """Add to ``found`` (each encounter's derivations) those of the chosen fact rules and entry
        groups through each encounter's ``facts`` and entries (``keys``: the batch's keyed keys, for
        a fact or entry not met before); with ``parts``, also the lists added from the groups holding
        a rule of ``producers`` (indexes), by encounter (each list kept for its fact or entry while
        it recurs: the same list each time)."""
        groups, read, entries = chosen
        if not groups and not entries:
            return
        entry_parts = [parts is not None and any(i in producers for i, _ in g.rules) for g in entries]
        fact_parts = {sig: parts is not None and any(r.index in producers for r in g.rules) for sig, g in groups.items()}
        generations: dict[int, _Generations] = {}
        for number in [g.number for g in groups.values()] + [g.number for g in entries]:
            kept_by = self.kept.get(number)
            if kept_by is None:
                kept_by = self.kept[number] = _Generations()
            kept_by.turn()
            generations[number] = kept_by
        store: _OneFact | None = None
        entry_store: _EntryStore | None = None
        # the entry groups reading each input predicate, with the position of the entry in it
        entry_reads: dict[Signature, list[tuple[int, int]]] = {}
        for n, group_e in enumerate(entries):
            for sig, pos in group_e.reads:
                entry_reads.setdefault(sig, []).append((n, pos))
        for k, fs in enumerate(facts):
            given: dict[Signature, set[tuple[int, ...]]] = {}
            # each entry's input facts (as read), by entry group and the entry's value
            by_entry: dict[tuple[int, int], list[tuple[Signature, tuple[int, ...]]]] = {}
            for name, args in fs:
                sig = (name, len(args))
                at = entry_reads.get(sig)
                if at is None and sig not in read:
                    continue
                values = tuple([a._rep for a in args])
                if sig in read:
                    rows = given.get(sig)
                    if rows is None:
                        given[sig] = {values}
                    else:
                        rows.add(values)  # each fact once, as clingo holds it once
                if at is not None:
                    for n, pos in at:
                        bucket = by_entry.get((n, values[pos]))
                        if bucket is None:
                            by_entry[(n, values[pos])] = [(sig, values)]
                        else:
                            bucket.append((sig, values))
            seen: dict[Any, Any] = {}
            out = found[k]
            for (n, value), entry_facts in by_entry.items():
                group_e = entries[n]
                kept_by = generations[group_e.number]
                key_e = (tuple(entry_facts), value)
                got = kept_by.newer.get(key_e)
                if got is None:
                    got = kept_by.older.get(key_e)
                    if got is None:
                        if entry_store is None:
                            entry_store = _EntryStore(self._reference(), keys)
                        if group_e.place is None:
                            got = self._run_entry(group_e, value, entry_facts, entry_store)[0]
                        else:
                            got = self._placed(group_e, value, entry_facts, entry_store)
                        got = Part(got)
                    kept_by.newer[key_e] = got
                    kept_by.count += len(got)
                out.extend(got)
                if entry_parts[n]:
                    parts[k].append(got)  # type: ignore[index]
            for sig, group in groups.items():
                rows = given.get(sig)
                if not rows:
                    continue
                in_parts = fact_parts[sig]
                kept_by = generations[group.number]
                kept, older = kept_by.newer, kept_by.older
                check = not group.blocking.isdisjoint(given)
                for values in rows:
                    # which of the group's rules the encounter blocks for this fact (mostly none)
                    blocked = tuple([r.blocked(values, given, seen) for r in group.rules]) if check else None
                    if blocked is not None and True not in blocked:
                        blocked = None  # kept with the encounters that have no blocking fact at all
                    key = (values, blocked)
                    got = kept.get(key)
                    if got is None:
                        got = older.get(key)
                        if got is None:
                            if store is None:
                                store = _OneFact(self._reference(), keys)
                            got = Part([])
                            for n, rule in enumerate(group.rules):
                                if blocked is None or not blocked[n]:
                                    got.extend(self._work_out(rule, values, store))
                        kept[key] = got
                        kept_by.count += len(got)
                    out.extend(got)
                    if in_parts:
                        parts[k].append(got)  # type: ignore[index]

    def _compiled(self, index: int) -> tuple[derive.RulePlan, Any]:
        """Marked rule ``index``'s record twin compiled to give the values of its variables, and
        what rebuilds a derivation from them."""
        compiled = self._plans.get(index)
        if compiled is None:
            marked = self._program.rules[index]
            assert marked.record is not None  # the loader keeps a fact or entry rule only with its record's variables
            plan = derive.compile_values(
                self._program.named.get(marked.single_twins, marked.single_twins), marked.record[1]
            )
            assert plan is not None  # and only if its twin compiles
            compiled = self._plans[index] = (plan, self._rebuild(index))
        return compiled

    def _work_out(self, rule: FactRule, values: tuple[int, ...], store: _OneFact) -> Kept:
        """The derivations of ``rule`` through the fact of ``values``, no fact blocking it: the rule
        joined with the reference data through the fact, or, if the fact holds values the rule only
        compares with numbers (:class:`_Compared`) and a fact of the same class was met, the values
        of its variables through that fact with these values put in."""
        plan, rebuild = self._compiled(rule.index)
        compared = self._compared.get(rule.index, self)
        if compared is self:
            compared = self._compared[rule.index] = _compared(self._program, rule, self._reference())
        key = compared.key(values) if compared is not None else None
        if key is not None:
            met = compared.solutions.get(key)  # type: ignore[union-attr]
            if met is not None:
                return [rebuild.run(v) for v in compared.moved(met[0], values, met[1])]  # type: ignore[union-attr]
        store.hold(rule.fact, values)
        solutions: dict[tuple[int, ...], None] = {}
        plan.run(store, solutions)
        if key is not None:
            if len(compared.solutions) >= PLACED_LIMIT:  # type: ignore[union-attr]
                compared.solutions.clear()  # type: ignore[union-attr]
            compared.solutions[key] = (values, list(solutions))  # type: ignore[union-attr]
        return [rebuild.run(v) for v in solutions]

    def _placed(
        self, group: _Entries, value: int, facts: list[tuple[Signature, tuple[int, ...]]], store: _EntryStore
    ) -> Kept:
        """The derivations of an entry group whose rules only join on the entry, through the input
        ``facts`` of the entry ``value``: the values of the rules' variables through the same facts
        with a placeholder in place of the entry's value, worked out once for every entry with such
        facts and kept, the value put in, and each derivation rebuilt from them."""
        place = group.place
        assert place is not None
        facts_p = tuple([(sig, (*values[: place[sig]], PLACEHOLDER, *values[place[sig] + 1 :])) for sig, values in facts])
        key = (group.number, facts_p)
        runs = self._placed_runs.get(key)
        if runs is None:
            if len(self._placed_runs) >= PLACED_LIMIT:
                self._placed_runs.clear()
            runs = self._placed_runs[key] = self._run_entry(group, PLACEHOLDER, list(facts_p), store)[1]
        return [rebuild.run(tuple([value if v == PLACEHOLDER else v for v in values])) for rebuild, values in runs]

    def _run_entry(
        self, group: _Entries, value: int, facts: list[tuple[Signature, tuple[int, ...]]], store: _EntryStore
    ) -> tuple[Kept, list[tuple[Any, tuple[int, ...]]]]:
        """The derivations of an entry group's rules through the input ``facts`` of the entry
        ``value``: the rules run in their order over the facts and the atoms the earlier ones
        derived for the entry; and each with its rule's rebuilder and the values of its variables."""
        store.reset()
        by_sig: dict[Signature, list[tuple[int, ...]]] = {}
        for sig, values in facts:
            by_sig.setdefault(sig, []).append(values)
        for sig, rows in by_sig.items():
            store.add(sig, rows)
        rules = self._program.rules
        needs = self._needs
        nonempty = store.nonempty
        got: Kept = []
        runs: list[tuple[Any, tuple[int, ...]]] = []
        for index, slot in group.rules:
            if not needs[index] <= nonempty:
                continue  # a predicate its positive body reads has no atom: it cannot fire
            plan, rebuild = self._compiled(index)
            solutions: dict[tuple[int, ...], None] = {}
            plan.run(store, solutions)
            chosen = [v for v in solutions if v[slot] == value]
            built = [rebuild.run(v) for v in chosen]
            if built:
                got.extend(built)
                runs.extend([(rebuild, v) for v in chosen])
                # the heads, for the rules after it (the rules of a head predicate run one after
                # another, before any rule that reads it: its indexes are not built yet)
                store.add_atoms(rules[index].head[0], [(d.head._rep, tuple([a._rep for a in d.head.arguments])) for d in built])
        return got, runs
