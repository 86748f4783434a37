"""The engine: the knowledge base loaded once, encounters evaluated against it."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator, Mapping

import clingo
from clingo import ast
from clingo._internal import _ffi, _handle_error, _lib

from . import bottomup, byfact, cache, derive, messages, terms
from .errors import CptkbError, InvalidEncounter, KnowledgeBaseFault
from .messages import Pattern, _build_term, _pattern
from .loader import (
    ENCOUNTER,
    MEMBER_TAG,
    SELECTION_CACHE_LIMIT,
    CountedMember,
    Counting,
    KnowledgeBaseError,
    is_prov_name,
    load_program,
)
from .result import (
    Derivation,
    Derived,
    RawAtom,
    Result,
    ShownAtom,
    build_result,
    comparison,
    derivation,
    new_derivation,
    with_members,
)
from .validate import Encounter, validate
from .vocab import Vocabulary, read_vocabulary

log = logging.getLogger("cptkb.solver")


def default_kb_dir() -> Path:
    from cptkb import kb as kb_package

    return Path(kb_package.__file__).resolve().parent


def _clingo_logger(code: clingo.MessageCode, message: str) -> None:
    log.debug("clingo %s: %s", code.name, message.strip())


class Engine:
    """Parses the knowledge base once; each :meth:`evaluate` evaluates one encounter: by the
    reasoner's bottom-up evaluation of the stratified rules (reasoner/bottomup.py) where the knowledge
    base allows it, else grounded by clingo; :meth:`evaluate_many` grounds batches with clingo.

    >>> engine = Engine()
    >>> result = engine.evaluate({"id": "e1", "date_of_service": "2024-05-01"})
    >>> result.codes
    []
    """

    def __init__(
        self, kb_dir: str | Path | None = None, data_dir: str | Path | None = None, bottom_up: bool = True
    ) -> None:
        """``bottom_up=False``: every evaluation is grounded by clingo, an encounter alone too (the
        reasoner's bottom-up evaluation, reasoner/bottomup.py, is the default where it applies)."""
        from .cmsdata import DataStore, default_data_dir

        self.kb_dir = Path(kb_dir) if kb_dir is not None else default_kb_dir()
        self.data = DataStore(data_dir if data_dir is not None else default_data_dir())
        self._ncci_cache: dict[tuple[str, str], list[tuple[str, tuple[Any, ...]]]] = {}
        entry = self.kb_dir / "main.lp"
        if not entry.is_file():
            raise KnowledgeBaseError(f"no knowledge base entry file at {entry}")
        cached = cache.load(self.kb_dir)
        if cached is not None:
            self.program, self.vocab = cached
        else:
            self.program = load_program(entry)
            self.vocab = self._read_vocabulary()
            self._check_rule_ids()
            self._check_grounds()
            cache.store(self.kb_dir, (self.program, self.vocab))
        # the reference data as ground atoms, added to each control through its
        # backend: the grounder then has no reference statements to instantiate
        self._static_atoms, self._keyed_atoms = self.program.reference_atoms()
        # the shown signatures of recent selections (see _shown_signatures)
        self._shows: dict[int, tuple[list[ast.AST], list[tuple[str, int, bool]] | None]] = {}
        # the message rules an encounter evaluated alone leaves to the reasoner, by finding
        # (check rules under ""), compiled when first needed
        texts: dict[str, list[str | tuple[Any, ...]]] = {}
        for rule in self.program.rules:
            if rule.message or rule.check:
                texts.setdefault(rule.message, []).append(rule.portable or rule.single)
        self._messages = messages.Compiled(texts)
        # each marked rule's twins compiled for the reasoner (derive.py), when first needed
        self._plans: dict[int, derive.TwinPlan | None] = {}
        # the reference data read for the reasoner, when first needed (see derive.Reference)
        self._reference = _LazyReference(self._static_atoms, self._keyed_atoms, self.program.keyed_tables)
        # the encounter rules in strata order, for the reasoner's evaluation of an encounter alone
        # (reasoner/bottomup.py), made when first needed
        self._stratified: bottomup.Stratified | None = None
        # reading batch models: what each predicate holds (Engine._kind), and the derivations
        # rebuilt from the values of marked rules' variables, kept in two generations: one met
        # again in the older is moved to the newer; when the newer holds _BOUND_LIMIT, the older
        # is dropped and the newer takes its place (what the last batches met stays)
        self._kinds: dict[str, str | _Rebuild] = {}
        self._bound: dict[tuple[Any, ...], Derivation] = {}
        self._bound_older: dict[tuple[Any, ...], Derivation] = {}
        self._kept_atoms = _KeptAtoms()  # the atoms of rebuilt derivations (see _Rebuild)
        self._tags: dict[int, Any] | None = None  # see _tag_kinds
        # the derivations of a traced batch's fact rules, worked out per input fact and kept (reasoner/byfact.py)
        # (given what they need, not the engine: an engine is freed when no longer referred to)
        self._by_fact = byfact.FactRules(self.program, partial(_rebuild_of, self.program, self._kept_atoms), self._reference)
        # the thread that grounds batches while evaluate_many reads the one before (made when first needed)
        self._grounder: ThreadPoolExecutor | None = None
        self.bottom_up = bottom_up
        # A control prepared in the background holds the reference atoms that the rules an
        # encounter evaluated alone grounds can read (its message and check rules are evaluated by
        # the reasoner, over all of them); a batch, which grounds every kind, adds the others.
        grounded_reads: set[tuple[str, int]] = set()
        for rule in self.program.rules:
            if not (rule.message or rule.check):
                grounded_reads.update(rule.reads)
        common = [a for a in self._static_atoms if (a.name, len(a.arguments)) in grounded_reads]
        self._static_rest = [a for a in self._static_atoms if (a.name, len(a.arguments)) not in grounded_reads]
        self._controls = _Controls(self.program.declarations_text(), common)
        weakref.finalize(self, self._controls.stop)
        # The parsed knowledge base is many long-lived objects; keep the cyclic
        # garbage collector from scanning them again after every evaluation.
        gc.freeze()

    # --- loading ------------------------------------------------------------------------

    def _read_vocabulary(self) -> Vocabulary:
        ctl = clingo.Control(logger=_clingo_logger, message_limit=50)
        ctl.add("base", [], self.program.static_text())
        ctl.add("base", [], self.program.documentation)
        try:
            ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"the knowledge base reference data does not ground: {exc}") from exc
        facts = sorted(a.symbol for a in ctl.symbolic_atoms if a.is_fact)
        return read_vocabulary(facts)

    def _check_grounds(self) -> None:
        """Every rule and provenance twin grounds (no unsafe variable, no syntax slip), with no encounter."""
        messages: list[str] = []

        def keep(code: clingo.MessageCode, message: str) -> None:
            messages.append(message.strip())

        ctl = clingo.Control(logger=keep, message_limit=200)
        everything = frozenset(self.program.dynamic)
        ctl.add("base", [], self.program.select(everything, True, text=True))
        dynamic = self.program.dynamic
        ctl.add(
            "base",
            [],
            "\n".join(
                f"#defined {n}/{a + 1 if (n, a) in dynamic or n == ENCOUNTER else a}." for n, a in self.program.provided
            ),
        )
        try:
            ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"the knowledge base does not ground: {'; '.join(messages) or exc}") from exc
        undefined = [m for m in messages if "does not occur in any rule head" in m]
        if undefined:
            raise KnowledgeBaseError("the knowledge base reads atoms no rule or fact defines: " + "; ".join(undefined))

    def _check_rule_ids(self) -> None:
        missing = sorted({m.rule_id for m in self.program.marked} - set(self.vocab.rules))
        if missing:
            where = {m.rule_id: f"{Path(m.file).name}:{m.line}" for m in self.program.marked}
            detail = ", ".join(f"{rid} ({where[rid]})" for rid in missing)
            raise KnowledgeBaseError(f"rules without a rule_source/5 fact (id, source, evidence): {detail}")
        for rid, src in self.vocab.rules.items():
            if src.evidence not in self.vocab.evidence_labels:
                raise KnowledgeBaseError(f"rule {rid} has an unknown evidence tag {src.evidence!r}")

    # --- evaluating ----------------------------------------------------------------------

    def validate(self, encounter: Any, switches: Mapping[str, bool] | None = None) -> Encounter:
        """Check an encounter against the contract; raise InvalidEncounter when it fails."""
        return validate(encounter, self.vocab, switches)

    def _twin_plan(self, i: int) -> derive.TwinPlan | None:
        """The compiled twins of marked rule ``i``, or None if they are outside the fragment the
        reasoner evaluates (see reasoner/derive.py)."""
        if i not in self._plans:
            twins = self.program.rules[i].single_twins
            self._plans[i] = derive.compile_twins(self.program.named.get(twins, twins))
        return self._plans[i]

    def _twin_plans(self, chosen: tuple[int, ...]) -> list[derive.TwinPlan] | None:
        """The compiled twins of the chosen marked rules, or None if one is outside the fragment."""
        plans = []
        for i in chosen:
            plan = self._twin_plan(i)
            if plan is None:
                return None
            plans.append(plan)
        return plans

    def solve(
        self, encounters: list[Encounter], trace: bool = False, derived: bool = True
    ) -> list[list[ShownAtom | RawAtom | Derived]]:
        """Evaluate encounters: a batch grounded with the knowledge base in one control.

        Encounter number n of the batch is the first argument of each of its
        atoms; the rules keep encounters apart, so the batch gives the same
        answers as one encounter at a time. Returns each encounter's shown
        atoms (without the number). One encounter alone is evaluated by the
        reasoner bottom-up (reasoner/bottomup.py) where the knowledge base
        allows it; otherwise it is grounded, and its trace is worked out by the
        reasoner from the grounded rules (reasoner/derive.py) where it can be.
        With ``derived`` false the reasoner does neither: clingo grounds the
        rules and the twins.
        """
        if not encounters:
            return []
        if len(encounters) > 1:
            return self._finish(self._start(encounters, trace, background=False))
        facts = [enc.facts + self._ncci_facts(enc) for enc in encounters]
        if derived and self.bottom_up:
            alone = self._alone(encounters[0], facts[0], trace)
            if alone is not None:
                self._check_faults(encounters, [alone])
                return [alone]
        # One encounter alone is grounded with the rules as written (no
        # encounter number: about a fifth less grounding work).
        inputs = frozenset((name, len(args)) for name, args in facts[0])
        # Alone, an encounter's facts also decide the rules' guards (reasoner/guards.py):
        # a rule the facts cannot make fire is left out. (A batch's facts meet
        # nearly every guard; checking them would cost more than it saves.)
        satisfied = self.program.satisfied(facts[0])
        plans = None
        if trace and derived and self.program.stratified:
            plans = self._twin_plans(self.program.marked_chosen(inputs, False, single=True, satisfied=satisfied))
        statements = self.program.select(inputs, trace and plans is None, single=True, satisfied=satisfied)
        keyed = self.program.keyed_keys(encounters[0].keys)
        ctl = self._control(statements, keyed, facts, single=True)
        ctl.ground([("base", [])])
        answers: list[list[int]] = []
        per: list[list[ShownAtom | RawAtom | Derived]] = [[]]
        # A shown atom recurs from one evaluation to the next: each is built once and kept (bounded).
        reader = terms.AtomReader()
        shown = self._shown_signatures(statements) if (not trace or plans is not None) and self.program.stratified else None
        if shown is not None:
            # The rules are stratified (loader._is_stratified): the answer is the
            # atoms the grounder derived, read without solving, unless one of
            # them is not a fact (never seen; then the solver decides).
            try:
                atoms = messages.Atoms(ctl)
                answers.append([rep for name, arity, positive in shown for rep in atoms.values(name, arity, positive)])
                indexed = self._indexed(atoms, keyed)
                per[0] = self._single_atoms(indexed, answers[0], reader)
                if plans is not None:
                    found, members = derive.derive(plans, indexed)
                    per[0].append(Derived("derivations", found, members))
            except messages.Unsettled:
                answers.clear()
                if plans is not None:
                    self._controls.give_back(ctl)
                    return self.solve(encounters, trace, derived=False)
        if not answers:
            with ctl.solve(yield_=True) as handle:
                for model in handle:
                    answers.append(terms.shown_values(model))
                    if len(answers) > 1:
                        break
                    holds = lambda rep: model.contains(clingo.Symbol(rep))  # type: ignore[call-arg]  # noqa: B023, E731
                    per[0] = self._single_atoms(self._indexed(messages.Atoms(ctl, holds), keyed), answers[0], reader)
        self._controls.give_back(ctl)
        del ctl
        self._check_answers(encounters, answers)
        self._check_faults(encounters, per)
        return per

    def _control(
        self, statements: list[ast.AST], keyed: list[str], facts: list[list[tuple[str, tuple[Any, ...]]]], single: bool
    ) -> clingo.Control:
        """A control holding the reference data, ``statements``, the keyed rows of ``keyed`` and the
        encounters' facts (each batch atom with its encounter number first), ready to ground."""
        ctl = self._controls.take()
        with ast.ProgramBuilder(ctl) as builder:
            terms.add_statements(builder, statements)
        with ctl.backend() as backend:
            writer = terms.FactWriter(backend)
            for key in keyed:
                writer.add_atoms(self._keyed_atoms.get(key, ()))
            if single:
                for name, args in facts[0]:
                    writer.add(name, args)
            else:
                writer.add_atoms(self._static_rest)
                for n, fs in enumerate(facts):
                    k = clingo.Number(n)
                    writer.add(ENCOUNTER, [k])
                    for name, args in fs:
                        writer.add(name, [k, *args])
        return ctl

    def _start(self, encounters: list[Encounter], trace: bool, background: bool) -> _Batch:
        """A batch's control made and its grounding started: in the engine's grounding thread with
        ``background`` (clingo releases the interpreter lock while it grounds, so the caller goes
        on meanwhile), else here. :meth:`_finish` reads the answer."""
        facts = [enc.facts + self._ncci_facts(enc) for enc in encounters]
        inputs = frozenset((name, len(args)) for fs in facts for name, args in fs)
        statements = self.program.select(inputs, trace)
        keys: set[str] = set()
        for enc in encounters:
            keys |= enc.keys
        keyed = self.program.keyed_keys(keys)
        ctl = self._control(statements, keyed, facts, single=False)
        # with the trace, the fact rules the batch grounds as written (their derivations are the reasoner's)
        by_fact = self._by_fact.chosen(self.program.marked_chosen(inputs, trace)) if trace else None
        counting = self.program.counting(inputs, trace) if trace else None
        if not background:
            return _Batch(encounters, facts, keyed, by_fact, ctl, None, _answers(ctl), counting)
        if self._grounder is None:
            self._grounder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cptkb-ground")
            weakref.finalize(self, self._grounder.shutdown, wait=False)
        return _Batch(encounters, facts, keyed, by_fact, ctl, self._grounder.submit(_answers, ctl), counting=counting)

    def _discard(self, batch: _Batch) -> None:
        """Free the control of a batch :meth:`_start` started, once its grounding is over (a batch read
        back, or one that will not be)."""
        if batch.control is not None:
            if batch.pending is not None:
                wait([batch.pending])
            # freed in the background, but no spare is made for a batch: a batch makes its control
            # in about a millisecond itself, and a spare made while the batch's model is read or its
            # results built would contend with them for the interpreter lock (each call into clingo
            # would wait for it)
            self._controls.give_back(batch.control, spare=False)
            batch.control = None

    def _finish(self, batch: _Batch) -> list[list[ShownAtom | RawAtom | Derived]]:
        """Each encounter's shown atoms of a batch :meth:`_start` started (waiting for its grounding)."""
        try:
            answers = batch.answers if batch.pending is None else batch.pending.result()
            # read before the control is handed back (see _discard)
            per = (
                self._batch_atoms(answers[0], batch.facts, batch.by_fact, batch.keyed, batch.counting)
                if len(answers) == 1
                else []
            )
        finally:
            self._discard(batch)
        self._check_answers(batch.encounters, answers)
        self._check_faults(batch.encounters, per)
        return per

    @staticmethod
    def _check_answers(encounters: list[Encounter], answers: list[list[int]]) -> None:
        if len(answers) != 1:
            ids = ", ".join(repr(e.ident) for e in encounters)
            raise KnowledgeBaseFault(f"the knowledge base gave {len(answers)} answers for {ids}; it must give exactly one")

    def _batch_atoms(
        self,
        values: list[int],
        facts: list[list[tuple[str, tuple[Any, ...]]]],
        by_fact: byfact.Chosen | None = None,
        keyed: list[str] | None = None,
        counting: Counting | None = None,
    ) -> list[list[ShownAtom | RawAtom | Derived]]:
        """The shown atoms of a batch model (``values``), by encounter (``facts``: each encounter's
        input facts), without the encounter number; each encounter's derivation records and aggregate
        members read into one :class:`Derived`, with (``by_fact``: the fact rules and entry groups the
        batch grounded as written, FactRules.chosen; ``keyed``: the keys whose keyed rows it held) the
        derivations of those rules through its input facts and entries (reasoner/byfact.py), and
        (``counting``: the aggregate members the batch did not ground, LoadedProgram.counting) those
        members, read off the derivations."""
        count = len(facts)
        numbers = _encounter_numbers(count)
        by_parts = _SHOWN_BY_PARTS
        if len(by_parts) >= terms.TABLE_LIMIT:
            by_parts.clear()
        bound = self._bound
        if len(bound) >= _BOUND_LIMIT:
            self._bound_older, bound = bound, {}
            self._bound = bound
        older = self._bound_older
        kinds = self._kinds
        tags = self._tags
        if tags is None:
            tags = self._tags = self._tag_kinds()
        per: list[list[ShownAtom | RawAtom | Derived]] = [[] for _ in range(count)]
        found: list[list[Derivation]] = [[] for _ in range(count)]
        members: dict[int, dict[tuple[str, int], list[int]]] = {}
        plan = _counting(counting) if counting is not None and counting.rules else None
        counting_of = plan.rules if plan is not None else {}
        producers = counting.producers if plan is not None else frozenset()  # type: ignore[union-attr]
        # the derivations of the rules whose members the batch did not ground: (encounter, marked
        # rule, derivation, its place among the encounter's); and by encounter those of the rules
        # that define the members' predicates, recorded in the model
        counters: list[tuple[int, int, Derivation, int]] = []
        pools: list[list[Derivation]] = [[] for _ in range(count)] if plan is not None else []
        # A record or member ends with its tag (loader.MEMBER_TAG, loader._binding_twins): its
        # arguments tell what it is, one call into clingo; any other atom is known by its name.
        # (The loop calls clingo's C functions itself, as reasoner/terms.py does: a call through
        # a method or a generator per atom costs a tenth more.) A name's address names it for good.
        p_address = _ffi.new("uintptr_t*")
        p_name = _ffi.cast("char**", p_address)
        p_args = _ffi.new("clingo_symbol_t**")
        p_size = _ffi.new("size_t*")
        name_of, arguments_of, unpack = _lib.clingo_symbol_name, _lib.clingo_symbol_arguments, _ffi.unpack
        names = terms.NAMES_AT
        rule_ids = _RULE_IDS  # each member's rule id by its symbol value
        for rep in values:
            if not arguments_of(rep, p_args, p_size):
                _handle_error(False)
            args = unpack(p_args[0], p_size[0])
            kind = tags.get(args[-1]) if args else None
            if kind is not None:
                name = args.pop()
            else:
                if not name_of(rep, p_name):
                    _handle_error(False)
                name = names.get(p_address[0])
                if name is None:
                    name = names[p_address[0]] = _ffi.string(p_name[0]).decode()
                kind = kinds.get(name)
                if kind is None:
                    kind = kinds[name] = self._kind(name)
            if kind.__class__ is _Rebuild:  # the values of a marked rule's variables (loader._binding_twins)
                k = numbers[args[0]]
                args[0] = name  # without the encounter number, the tag (or name) first
                key = tuple(args)
                built = bound.get(key)
                if built is None:
                    built = older.get(key)
                    if built is None:
                        built = kind.run(key[1:])
                    bound[key] = built
                found[k].append(built)
                if counting_of:
                    if kind.index in counting_of:
                        counters.append((k, kind.index, built, len(found[k]) - 1))
                    if kind.index in producers:
                        pools[k].append(built)
                continue
            k = numbers[args[0]]
            args[0] = name  # the atom without its encounter number: (name, arguments...)
            if kind is _SHOWN:
                key = tuple(args)
                atom = by_parts.get(key)
                if atom is None:
                    atom = by_parts[key] = shown_atom(name, key[1:])
                per[k].append(atom)
            elif kind is _MEMBER:
                _, rule, head, member = args
                counted = members.get(k)
                if counted is None:
                    counted = members[k] = {}
                rule_id = rule_ids.get(rule)
                if rule_id is None:
                    rule_id = rule_ids[rule] = terms.term(rule).string
                key_m = (rule_id, head)
                heads = counted.get(key_m)
                if heads is None:
                    counted[key_m] = [member]
                else:
                    heads.append(member)
            else:  # _RECORD: a derivation record in full
                built = derivation(tuple(args[1:]))
                found[k].append(built)
                if plan is not None and built.head.name in plan.members:
                    pools[k].append(built)
        parts: list[list[byfact.Part]] = [[] for _ in range(count)] if counters else []
        if by_fact is not None:
            self._by_fact.derivations(by_fact, facts, keyed or [], found, parts if counters else None, producers)
        if counters:
            counters.sort(key=_FIRST)
            counted = _count_members(plan, counters, pools, parts)  # type: ignore[arg-type]
            for k, _, d, at in counters:
                by_head = counted.get(k)
                if by_head is None:
                    continue
                grounded = members.get(k)
                if grounded is None:
                    # the derivation with its members, in its place (read_derivations attaches
                    # the members of an encounter's member atoms, when it has any)
                    reps = by_head.get((d.rule, d.head._rep))
                    if reps:
                        found[k][at] = with_members(d, reps)
                else:
                    for key_m, reps in by_head.items():
                        got_m = grounded.get(key_m)
                        if got_m is None:
                            grounded[key_m] = list(reps)
                        else:
                            got_m.extend(reps)
                    del counted[k]
        for k, records in enumerate(found):
            if records or k in members:
                per[k].append(Derived("derivations", records, members.get(k, {})))
        return per

    def _tag_kinds(self) -> dict[int, Any]:
        """What each tag a batch's records and members end with says the atom holds (see _kind), by
        the tag's symbol value: a record's tag is its predicate's name (loader._binding_twins)."""
        tags: dict[int, Any] = {clingo.Function(MEMBER_TAG)._rep: _MEMBER}
        for i, rule in enumerate(self.program.rules):
            if rule.record is not None:
                tags[clingo.Function(rule.record[0])._rep] = _rebuild_of(self.program, self._kept_atoms, i)
        return tags

    def _kind(self, name: str) -> str | _Rebuild:
        """What a predicate of a batch model holds: a shown atom, a derivation record, an aggregate
        member, or the values of a marked rule's variables (then the variables and the patterns of
        the record's arguments, from its twin for an encounter alone)."""
        if name == "prov_member":
            return _MEMBER
        if not is_prov_name(name):
            return _SHOWN
        for i, rule in enumerate(self.program.rules):
            if rule.record is not None and rule.record[0] == name:
                return _rebuild_of(self.program, self._kept_atoms, i)
        return _RECORD

    @staticmethod
    def _check_faults(encounters: list[Encounter], per: list[list[ShownAtom | RawAtom | Derived]]) -> None:
        for n, atoms in enumerate(per):
            faults = [a for a in atoms if a.name == "kb_fault"]
            if faults:
                detail = "; ".join(f"{f.arguments[0].string}: {f.arguments[1]}" for f in faults)
                raise KnowledgeBaseFault(f"knowledge base fault for encounter {encounters[n].ident!r}: {detail}")

    def _alone(
        self, enc: Encounter, facts: list[tuple[str, tuple[Any, ...]]], trace: bool
    ) -> list[ShownAtom | RawAtom | Derived] | None:
        """The shown atoms of an encounter evaluated alone by the reasoner, its rules run bottom-up
        (reasoner/bottomup.py), with its derivations when ``trace``; None when the knowledge base is
        outside what the reasoner evaluates (then clingo grounds it)."""
        stratified = self._stratified
        if stratified is None:
            static = {(a.name, len(a.arguments)) for a in self._static_atoms} | set(self.program.keyed_tables)
            stratified = self._stratified = bottomup.Stratified(self.program, static)
            if not stratified.available:
                log.debug("encounters are grounded by clingo: %s", stratified.unavailable)
        if not stratified.available:
            return None
        store = bottomup.Store(self._reference_data(), self.program.keyed_keys(enc.keys))
        traced = stratified.run(store, facts, self._twin_plan if trace else None)
        if traced is None:
            return None
        reps = [rep for sig in stratified.shown for rep in store.values(sig)]
        atoms = self._single_atoms(store, reps, terms.AtomReader())
        if trace:
            found, members = derive.records(traced)
            atoms.append(Derived("derivations", found, members))
        return atoms

    def _reference_data(self) -> derive.Reference:
        """The reference atoms, read once per engine (see derive.Reference)."""
        return self._reference()

    def _shown_signatures(self, statements: list[ast.AST]) -> list[tuple[str, int, bool]] | None:
        """The signatures a selection's #show statements name (None if it shows terms too)."""
        hit = self._shows.get(id(statements))
        if hit is not None and hit[0] is statements:
            return hit[1]
        if len(self._shows) >= 4 * SELECTION_CACHE_LIMIT:
            self._shows.clear()
        sigs: list[tuple[str, int, bool]] | None = []
        for stm in statements:
            kind = stm.ast_type
            if kind == ast.ASTType.ShowSignature:
                if stm.name or stm.arity:  # "#show." only hides what is not listed
                    sigs.append((stm.name, stm.arity, stm.positive))
            elif kind == ast.ASTType.ShowTerm:
                sigs = None
                break
        self._shows[id(statements)] = (statements, sigs)  # the list is kept, so its id is not reused
        return sigs

    def _indexed(self, atoms: messages.Atoms, keyed: list[str]) -> derive.Indexed:
        """The true atoms of a grounded control, indexed for the reasoner's rule evaluation (the
        reference atoms read once per engine; ``keyed``: the keys whose keyed rows it holds)."""
        return derive.Indexed(atoms, self._reference_data(), keyed)

    def _single_atoms(
        self, grounded: derive.Indexed, reps: list[int], reader: terms.AtomReader
    ) -> list[ShownAtom | RawAtom | Derived]:
        """One encounter's shown atoms, with what its message rules derive for the findings that
        hold (the rules were not grounded, see reasoner/messages.py)."""
        by_value = _SHOWN_BY_VALUE
        if len(by_value) >= terms.TABLE_LIMIT:
            by_value.clear()
        atoms: list[ShownAtom | RawAtom | Derived] = []
        found: list[str] = []
        for rep in reps:
            atom = by_value.get(rep)
            if atom is None:
                atom = by_value[rep] = shown_atom(*reader.parts(rep))
            atoms.append(atom)
            if atom.name == "finding" and atom.arguments[0].string in self._messages:
                found.append(atom.arguments[0].string)
        if found or "" in self._messages:
            by_parts = _SHOWN_BY_PARTS
            for name, args in messages.evaluate(self._messages, found, grounded):
                key = (name, *args)
                atom = by_parts.get(key)
                if atom is None:
                    atom = by_parts[key] = shown_atom(name, args)
                atoms.append(atom)
        return atoms

    def require_code(self, code: Any) -> None:
        """Raise InvalidEncounter (field CODE) unless ``code`` is a code of the knowledge base's catalog."""
        if not isinstance(code, str) or code not in self.vocab.codes:
            known = ", ".join(sorted(self.vocab.codes))
            raise InvalidEncounter("CODE", code, f"a code of the knowledge base's catalog: {known}", problem="unknown code")

    def policy(self, name: str) -> dict[str, bool]:
        """The switches of the policy profile ``name`` (kb/data/settings.lp, policy_profile/2)."""
        profile = self.vocab.profiles.get(name)
        if profile is None:
            known = ", ".join(f'"{p}"' for p in sorted(self.vocab.profiles))
            raise InvalidEncounter("--policy", name, f"one of {known}", problem="unknown policy profile")
        return {switch: True for switch in sorted(profile[1])}

    def _ncci_facts(self, enc: Encounter) -> list[tuple[str, tuple[Any, ...]]]:
        """The NCCI editions in force on the encounter's date and their rows for the catalog's codes
        (the only codes a code set or a valid claim can name), as input facts."""
        if not self.data.editions():  # read once per engine (no file: none)
            return []
        out: list[tuple[str, tuple[Any, ...]]] = []
        for table in ("ptp", "mue", "aoc"):
            edition = self.data.in_force(table, enc.date_int)
            if edition is None:
                continue
            key = (table, edition.name)
            rows = self._ncci_cache.get(key)
            if rows is None:
                rows = [("enc_edition", (clingo.Function(table), clingo.String(edition.name), clingo.Function("cms")))]
                for row in self.data.rows(table, edition.name, sorted(self.vocab.codes)):
                    args = tuple(clingo.String(v) if isinstance(v, str) else clingo.Number(v) for v in row)
                    rows.append((f"enc_{table}", args))
                self._ncci_cache[key] = rows
            out.extend(rows)
        return out

    def evaluate(
        self, encounter: Any, switches: Mapping[str, bool] | None = None, trace: bool = False
    ) -> Result:
        """Evaluate one contract-v1 encounter (a dict) and return its Result.

        With ``trace`` the result also carries every rule firing (its
        ``derivations``), from which the explanation graph is built.
        """
        enc = self.validate(encounter, switches)
        (atoms,) = self.solve([enc], trace)
        return build_result(enc, atoms, self.vocab)

    def evaluate_many(
        self,
        encounters: Iterable[Any],
        switches: Mapping[str, bool] | None = None,
        trace: bool = False,
        batch_size: int = 200,
    ) -> Iterator[Result | InvalidEncounter]:
        """Evaluate a stream of encounters, ``batch_size`` per grounding, in input order.

        A bad encounter yields its InvalidEncounter in its place and the rest
        of the batch goes on. The batches are pipelined: while one batch is
        grounded (in the engine's grounding thread), the next is read and
        validated and the one before is read back and its results yielded, so
        the input is read up to one batch ahead of the results.
        """
        batch: list[Encounter | InvalidEncounter] = []
        started: list[tuple[list[Encounter | InvalidEncounter], _Batch | None]] = []

        def start() -> None:
            valid = [e for e in batch if isinstance(e, Encounter)]
            job = self._start(valid, trace, background=True) if len(valid) > 1 else None
            started.append((list(batch), job))
            batch.clear()

        def finish() -> Iterator[Result | InvalidEncounter]:
            items, job = started.pop(0)
            # A batch's model is read and its results built with the cyclic garbage collector
            # paused: they make many objects, none of them garbage, and the collections they would
            # set off are the costlier the more objects are alive (see _collector_paused).
            with _collector_paused():
                if job is not None:
                    solved = iter(self._finish(job))
                else:
                    solved = iter(self.solve([e for e in items if isinstance(e, Encounter)], trace))
                out = [build_result(item, next(solved), self.vocab) if isinstance(item, Encounter) else item for item in items]
            yield from out

        try:
            for encounter in encounters:
                try:
                    batch.append(self.validate(encounter, switches))
                except InvalidEncounter as exc:
                    batch.append(exc)
                if len(batch) >= batch_size:
                    start()
                    if len(started) > 1:
                        yield from finish()
            if batch:
                start()
            while started:
                yield from finish()
        finally:
            # a batch started and not read (the caller stopped early, or an error): its control freed
            for _, job in started:
                if job is not None:
                    self._discard(job)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block (if it runs), and set going again after.

    Reading a batch's model and building its results make thousands of objects per encounter, and a
    traced batch of new encounters keeps many of them for the engine's caches: the collections they
    set off (each full one goes over every object alive, caches and caller's alike) cost more than
    the reading itself. Paused, the objects are counted all the same and collected (or moved to an
    older generation) in one go when the collector runs again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# Shown atoms already built: one encounter's by symbol value (a value names its
# symbol for good, see reasoner/terms.py), a batch's by name and argument values
# (name, value, value, ...).
_SHOWN_BY_VALUE: dict[int, ShownAtom | RawAtom] = {}
_SHOWN_BY_PARTS: dict[tuple[Any, ...], ShownAtom | RawAtom] = {}


@dataclass
class _Batch:
    """A batch being evaluated: its encounters, its control (None once handed back), and its answers
    (each a list of shown symbol values), or the grounding that will give them."""

    encounters: list[Encounter]
    facts: list[list[tuple[str, tuple[Any, ...]]]]  # each encounter's input facts, as added to the control
    keyed: list[str]  # the keys whose keyed rows the control holds
    # with the trace, the fact rules and entry groups grounded as written (reasoner/byfact.py, FactRules.chosen)
    by_fact: byfact.Chosen | None
    control: clingo.Control | None
    pending: Future[list[list[int]]] | None
    answers: list[list[int]] = field(default_factory=list)
    # with the trace, the aggregate members the reasoner works out (LoadedProgram.counting)
    counting: Counting | None = None


def _answers(ctl: clingo.Control) -> list[list[int]]:
    """Ground a batch's control and solve it: the shown symbol values of its models (two at most:
    more than one is a fault of the knowledge base)."""
    ctl.ground([("base", [])])
    answers: list[list[int]] = []
    with ctl.solve(yield_=True) as handle:
        for model in handle:
            answers.append(terms.shown_values(model))
            if len(answers) > 1:
                break
    return answers


class _Counting:
    """How a batch reads the aggregate members it did not ground (LoadedProgram.counting) off the
    derivations of their predicates: for each member, a function of a member atom's arguments (terms)
    giving the values of the head's arguments it must match (None when it does not match the
    member's pattern), and for each counting rule, one of its head's arguments giving those values.
    Compiled once per selection (:func:`_counting`)."""

    __slots__ = ("rules", "members")

    def __init__(self, counting: Counting) -> None:
        # by marked rule: (member number, rule id, head key) per member it counts
        self.rules: dict[int, list[tuple[int, str, Any]]] = {}
        # by member predicate name: (member number, arity, member key)
        self.members: dict[str, list[tuple[int, int, Any]]] = {}
        numbers: dict[CountedMember, int] = {}
        for index, counted in counting.rules:
            for c in counted:
                member_key, head_key = _keys(c)
                n = numbers.get(c)
                if n is None:
                    n = numbers[c] = len(numbers)
                    self.members.setdefault(c.member[0], []).append((n, c.member[1], member_key))
                self.rules.setdefault(index, []).append((n, c.rule, head_key))


def _keys(counted: CountedMember) -> tuple[Any, Any]:
    """Two functions, of a member atom's arguments and of a counting rule's head arguments (terms):
    the values (symbol values) of the member's arguments that stand for head arguments, in the
    order of the head's arguments, or None if the atom does not match the member's pattern; and
    the values of those head arguments, in the same order."""
    env: dict[str, Any] = {}
    tests: list[str] = []
    outer: list[tuple[int, str]] = []  # (the head argument, the member's expression that holds it)

    def walk(patterns: tuple[Any, ...], at: str) -> None:
        for n, p in enumerate(patterns):
            here = f"{at}[{n}]"
            if p is None:
                continue
            if p[0] == "h":
                outer.append((p[1], f"{here}._rep"))
            elif p[0] == "c":
                name = f"c{len(env)}"
                env[name] = clingo.parse_term(p[1])._rep
                tests.append(f"{here}._rep == {name}")
            else:
                name = f"c{len(env)}"
                env[name] = p[1]
                tests.append(f"{here}.name == {name} and len({here}.arguments) == {len(p[2])}")
                walk(p[2], f"{here}.arguments")

    walk(counted.pattern, "a")
    outer.sort()  # each head argument once (loader._counted_member)
    key = "(" + "".join(f"{expr}, " for _, expr in outer) + ")"
    body = f"{key} if {' and '.join(tests)} else None" if tests else key
    member_key = eval(f"lambda a: {body}", env)  # noqa: S307 (code made from the knowledge base's own patterns)
    head_key = eval("lambda a: (" + "".join(f"a[{j}]._rep, " for j, _ in outer) + ")")  # noqa: S307
    return member_key, head_key


def _counting(counting: Counting) -> _Counting:
    found = _COUNTINGS.get(counting)
    if found is None:
        if len(_COUNTINGS) >= 256:
            _COUNTINGS.clear()
        found = _COUNTINGS[counting] = _Counting(counting)
    return found


_COUNTINGS: dict[Counting, _Counting] = {}


def _count_members(
    plan: _Counting,
    counters: list[tuple[int, int, Derivation, int]],
    pools: list[list[Derivation]],
    parts: list[list[byfact.Part]],
) -> dict[int, dict[tuple[str, int], list[int]]]:
    """The members of the derivations ``counters`` (each with its encounter and marked rule;
    ``plan``: the members each rule counts), by encounter, rule id and head: the heads of that
    encounter's derivations of each member's predicate that match it. The batch gives every
    derivation of such a predicate, so these are the atoms of it that hold, as the member twins it
    left out would give them. They are read off those the batch's model recorded (``pools``, by
    encounter) and those the reasoner gave (``parts``: by encounter, the lists it added them from,
    each kept for a fact or entry: the members among them are worked out once per list and kept
    with it)."""
    rules = plan.rules
    members: dict[int, dict[tuple[str, int], list[int]]] = {}
    last = -1
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    counted: dict[tuple[str, int], list[int]] = {}
    for k, index, d, _ in counters:
        if k != last:
            last = k
            buckets = {}
            among = [_members_among(plan, pools[k])] if pools[k] else []
            for part in parts[k]:
                read = part.read
                if read is None or read[0] is not plan:
                    read = part.read = (plan, _members_among(plan, part))
                among.append(read[1])
            for found in among:
                for key, rep in found:
                    bucket = buckets.get(key)
                    if bucket is None:
                        buckets[key] = [rep]
                    else:
                        bucket.append(rep)
            counted = {}
        args = d.head.arguments
        for n, rule_id, head_key in rules[index]:
            key = (n, head_key(args))
            reps = buckets.get(key)
            if reps:
                if not counted:
                    members[k] = counted
                key_m = (rule_id, d.head._rep)
                got_m = counted.get(key_m)
                if got_m is None:
                    counted[key_m] = reps
                elif got_m is not reps:  # (a head derived twice counts the same members)
                    counted[key_m] = got_m + reps
    return members


def _members_among(plan: _Counting, derivations: list[Derivation]) -> tuple[tuple[tuple[int, tuple[int, ...]], int], ...]:
    """The heads of ``derivations`` that are members (see _Counting), each as its member number with
    the values of the head arguments it matches, and its symbol value."""
    of_name = plan.members
    out = []
    for d in derivations:
        head = d.head
        at = of_name.get(head.name)
        if at is not None:
            args = head.arguments
            for n, arity, key_of in at:
                if len(args) == arity:
                    key = key_of(args)
                    if key is not None:
                        out.append(((n, key), head._rep))
    return tuple(out)


_FIRST = itemgetter(0)

_SHOWN, _RECORD, _MEMBER = "shown", "record", "member"
# the rule ids of aggregate members read (Engine._batch_atoms), by the id's symbol value (a value
# names its symbol for good: reasoner/terms.py); as many as the rules that count members
_RULE_IDS: dict[int, str] = {}


# derivations rebuilt from the values of a marked rule's variables, kept: each of the two
# generations holds this many at most, and the records of one batch more (see Engine._bound)
_BOUND_LIMIT = 50_000
# the atoms of an engine's rebuilt derivations kept at most (see _KeptAtoms)
_ATOMS_LIMIT = 200_000


class _KeptAtoms:
    """The atoms an engine's :class:`_Rebuild` objects keep, in one table per shape of atom (its
    pattern with its variables numbered in the order they come, and whether it is a comparison),
    shared by every rule whose record has an atom of that shape: a new date's ``enc_date(D)`` and
    ``cmp(F,"<=",D)`` are made once for all the rules that read the date, each keyed by the values
    of its variables in that order. A record's tuple of comparisons is kept the same way (shape:
    its comparisons' patterns): a date's codes in force with the same dates share one. Counted
    together: when there are :data:`_ATOMS_LIMIT` of them, all are forgotten (and made again when
    next needed)."""

    __slots__ = ("tables", "count")

    def __init__(self) -> None:
        self.tables: dict[Any, dict[Any, tuple[Any, str]]] = {}
        self.count = 0

    def table(self, shape: Any) -> dict[Any, tuple[Any, str]]:
        """The table of kept atoms of ``shape``, made when first asked for."""
        table = self.tables.get(shape)
        if table is None:
            table = self.tables[shape] = {}
        return table

    def keep(self, table: dict[Any, Any], key: Any, atom: Any) -> None:
        if self.count >= _ATOMS_LIMIT:
            for other in self.tables.values():
                other.clear()
            self.count = 0
        table[key] = atom
        self.count += 1

    def kept(self, table: dict[Any, Any], key: Any, value: Any) -> Any:
        """``value`` kept in ``table`` by ``key``, and returned."""
        self.keep(table, key, value)
        return value


def _shape(pattern: Pattern, names: list[str]) -> Any:
    """``pattern`` with each variable replaced by its number in ``names`` (which it fills with the
    pattern's variables in the order they first come)."""
    kind = pattern[0]
    if kind == "v":
        if pattern[1] not in names:
            names.append(pattern[1])
        return ("v", names.index(pattern[1]))
    if kind == "f":
        return ("f", pattern[1], tuple([_shape(p, names) for p in pattern[2]]))
    return pattern


class _LazyReference:
    """An engine's reference data for the reasoner (derive.Reference), read when first called for."""

    __slots__ = ("_sources", "_read")

    def __init__(self, *sources: Any) -> None:
        self._sources = sources
        self._read: derive.Reference | None = None

    def __call__(self) -> derive.Reference:
        if self._read is None:
            self._read = derive.Reference(*self._sources)
        return self._read


def _rebuild_of(program: Any, kept: _KeptAtoms, index: int) -> _Rebuild:
    """What rebuilds the derivations of marked rule ``index`` from the values of its variables."""
    rule = program.rules[index]
    return _Rebuild(rule.record[1], program.named.get(rule.single_twins, rule.single_twins), kept, index)


class _Rebuild:
    """Rebuilds the derivation a record of the values of its rule's variables stands for, and its
    sort key, as :func:`result.derivation` reads it from the record itself (``slots``: the
    variables; ``patterns``: the patterns of the record's arguments). ``run(values)`` gives it.

    A record is new when one of its values is, but its atoms mostly are not (in a stream of new
    encounters about 96% of them have been met before): each atom is kept, with its text, by the
    values of its pattern's variables, in a table shared by the rules whose records have atoms of
    the same shape (:class:`_KeptAtoms`), and only an atom not met before is made (its symbol in
    clingo, its term from the terms of the values: terms.function_term). ``run`` is compiled from
    the patterns (its code is kept in ``source``): it looks each atom up, makes it in place if it is
    not kept, and joins the texts and the tuples of the record without a loop; the record's tuples
    are not made in clingo, only the atoms in them. The patterns are read from the rule's
    twins (``twins``, the text for an encounter alone) and ``run`` compiled when first called: a
    batch meets only some of the knowledge base's rules, and reading and compiling all of them
    would cost its first batch about a quarter of a second."""

    __slots__ = ("slots", "patterns", "run", "source", "index", "_twins", "_kept")

    def __init__(self, slots: tuple[str, ...], twins: str, kept: _KeptAtoms, index: int) -> None:
        self.slots = slots
        self.index = index  # the marked rule's
        self._twins = twins
        self._kept = kept
        self.patterns: tuple[Pattern, ...] = ()
        self.source = ""
        self.run: Any = self._first

    def _first(self, values: tuple[int, ...]) -> Derivation:
        return self.compile()(values)

    def compile(self) -> Any:
        """``run``, compiled (once) from the patterns of the rule's record twin."""
        if self.source:
            return self.run
        parsed: list[ast.AST] = []
        ast.parse_string(self._twins, parsed.append)
        record = next(t for t in parsed if t.ast_type == ast.ASTType.Rule)
        patterns = self.patterns = tuple(_pattern(a) for a in record.head.atom.symbol.arguments)
        slots = self.slots
        env: dict[str, Any] = {
            "derivation": new_derivation,
            "keep": self._kept.kept,
            "term": terms.term,
            "function": terms.function_term,
            "comparison": comparison,
        }
        lines: list[str] = []
        # the tables of kept atoms ``run`` reads, one per atom made from the values (each atom kept by
        # the values of its variables, as its term, or its comparison, and its text): k0, k1, ...
        tables: list[dict[Any, tuple[Any, str]]] = []
        texts: list[str] = []  # the pieces of the sort key's text, each in the f-string that makes it
        values: list[str] = []  # the derivation's arguments, each an expression

        def constant(value: Any) -> str:
            name = f"c{len(env)}"
            env[name] = value
            return name

        def key_of(names: list[str]) -> str:
            """The expression of a shape's key: the values of its variables, in its order."""
            at = [slots.index(v) for v in names]
            return f"v{at[0]}" if len(at) == 1 else "(" + ", ".join(f"v{n}" for n in at) + ")"

        def atom(pattern: Pattern, is_comparison: bool) -> tuple[str, str]:
            """The expressions of an atom's item and text (made and kept, unless the atom is fixed)."""
            names: list[str] = []
            shape = (is_comparison, _shape(pattern, names))
            if not names:
                t = _build_term(pattern, {})
                return constant(comparison(t) if is_comparison else t), constant(str(t))
            i = len(tables)
            tables.append(self._kept.table(shape))
            env[f"k{i}"] = tables[i]
            key = key_of(names)
            made = "comparison(t)" if is_comparison else "t"
            lines.extend(
                [
                    f"    a{i} = k{i}.get({key})",
                    f"    if a{i} is None:",  # made (its term from the values' terms) and kept
                    f"        t = {term_of(pattern)}",
                    f"        a{i} = keep(k{i}, {key}, ({made}, str(t)))",
                ]
            )
            return f"a{i}[0]", f"a{i}[1]"

        def term_of(pattern: Pattern) -> str:
            """The expression of the term of ``pattern`` (as messages._build_term makes it)."""
            if pattern[0] == "c":
                return constant(terms.term(pattern[1]))
            if pattern[0] == "v":
                return f"term(v{slots.index(pattern[1])})"
            return f"function({constant(pattern[1])}, ({''.join(term_of(p) + ', ' for p in pattern[2])}))"

        rule_p, head_p, *parts_p = patterns
        rule_item, rule_text = atom(rule_p, False)
        head_item, head_text = atom(head_p, False)
        values += [constant(env[rule_item].string) if rule_item in env else f"{rule_item}.string", head_item]
        texts += ["{" + rule_text + "}", "{" + head_text + "}"]
        for n, part in enumerate(parts_p):
            if part[0] == "c":  # a fixed tuple
                t = terms.term(part[1])
                values.append(constant(tuple([comparison(c) for c in t.arguments]) if n == 2 else t.arguments))
                texts.append("{" + constant(str(t)) + "}")
                continue
            made = [atom(p, n == 2) for p in part[2]]
            items = "(" + "".join(f"{item}, " for item, _ in made) + ")"
            names: list[str] = []
            shape = ("comparisons", tuple([_shape(p, names) for p in part[2]])) if n == 2 else None
            if shape is not None and names:
                # the comparisons, a tuple shared by every derivation with the same values in them
                # (a date's codes in force share a few: each code's dates against the date)
                j = len(env)
                env[f"t{j}"] = self._kept.table(shape)
                key = key_of(names)
                lines.extend(
                    [f"    c{j} = t{j}.get({key})", f"    if c{j} is None:", f"        c{j} = keep(t{j}, {key}, {items})"]
                )
                items = f"c{j}"
            values.append(items)
            inner = ",".join("{" + text + "}" for _, text in made)
            texts.append(f"({inner},)" if len(made) == 1 else f"({inner})")
        unpack = [f"    {''.join(f'v{n}, ' for n in range(len(slots)))}= values"] if slots else []
        self.source = "\n".join(
            [
                "def run(values):",
                *unpack,
                *lines,
                f"    return derivation({', '.join(values)}, (), f'prov({','.join(texts)})')",
                "",
            ]
        )
        namespace: dict[str, Any] = {}
        exec(compile(self.source, "<record rebuild>", "exec"), env, namespace)  # noqa: S102 (code generated from the knowledge base, constants passed as values)
        self.run = namespace["run"]
        return self.run


# the symbol values of the encounter numbers 0, 1, ... of a batch, by value
_NUMBERS: dict[int, int] = {}


def _encounter_numbers(count: int) -> dict[int, int]:
    """The encounter numbers 0 to count - 1 by their symbol values."""
    if len(_NUMBERS) < count:
        _NUMBERS.update((clingo.Number(n)._rep, n) for n in range(len(_NUMBERS), count))
    return _NUMBERS


def shown_atom(name: str, reps: tuple[int, ...]) -> ShownAtom | RawAtom:
    """A shown atom of one encounter from its name and its arguments' symbol values (without the
    encounter number). The trace's atoms are read lazily (see result.RawAtom), and every derivation
    record (loader.prov_name) is read as prov."""
    if is_prov_name(name):
        return RawAtom("prov", reps)
    if name == "prov_member":
        return RawAtom(name, reps)
    return ShownAtom(name, tuple([terms.term(r) for r in reps]))


_STOP = object()


class _Controls:
    """Fresh clingo controls for evaluations, made and freed off the request path.

    A daemon thread creates each control, adds the reference data to it as
    ground atoms through its backend (so the grounder has no reference
    statements to instantiate on the request path) and frees used controls,
    while the caller goes on (clingo releases the interpreter lock in its C
    calls, so the second core does the work). A control is never reused: each
    evaluation grounds into a new one. The thread starts with the first
    control taken: an engine whose encounters are all evaluated bottom-up
    (reasoner/bottomup.py) never grounds and keeps no thread busy.
    """

    OPTIONS = ["--models=0", "--warn=no-atom-undefined"]

    def __init__(self, declarations: str, atoms: list[clingo.Symbol]) -> None:
        self._declarations = declarations
        self._atoms = atoms
        self._ready: queue.SimpleQueue[clingo.Control] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def new(self) -> clingo.Control:
        """A control holding the reference data, ready for an evaluation's rules and facts."""
        # Only the rules that can fire are grounded, so atoms that no chosen
        # rule defines are expected here; the whole knowledge base was checked
        # for undefined atoms when it was loaded (Engine._check_grounds).
        ctl = clingo.Control(self.OPTIONS, logger=_clingo_logger, message_limit=50)
        ctl.add("base", [], self._declarations)
        with ctl.backend() as backend:
            terms.FactWriter(backend).add_atoms(self._atoms)
        return ctl

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            used, spare = job
            del used, job  # freeing a control happens here
            if spare:
                self._ready.put(self.new())

    def stop(self) -> None:
        """End the thread (when its engine is collected)."""
        self._jobs.put(_STOP)

    def take(self) -> clingo.Control:
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    thread = threading.Thread(target=self._work, name="cptkb-controls", daemon=True)
                    thread.start()
                    self._jobs.put((None, True))  # make the first spare
                    self._thread = thread
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return self.new()

    def give_back(self, ctl: clingo.Control, spare: bool = True) -> None:
        """Hand a used control over to be freed, and with ``spare`` a new spare made in its place."""
        self._jobs.put((ctl, spare))


_DEFAULT: Engine | None = None


def default_engine() -> Engine:
    """The engine over the installed knowledge base, created on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Engine()
    return _DEFAULT


def evaluate(encounter: Any, switches: Mapping[str, bool] | None = None) -> Result:
    """Evaluate one encounter with the installed knowledge base."""
    return default_engine().evaluate(encounter, switches)


__all__ = ["Engine", "evaluate", "default_engine", "CptkbError"]
