"""The derivations of a traced batch's fact rules and entry groups, worked out by the reasoner per
input fact and per entry (reasoner/byfact.py).

Source: docs/knowledge-base.md, "The rule marker and provenance": a batch's derivations are what
the provenance twins derive for each encounter, the same as for the encounter evaluated alone;
the rules read are kb/rules/common.lp (codes in force, a muscle entry's region, nerve and roots),
kb/rules/ncs.lp (studies, the branches_as_one_study switch) and kb/rules/necessity.lp.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import clingo

from cptkb.reasoner import byfact, terms
from cptkb.reasoner.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402

MUSCLES = [{"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC")]


def _with_rules(tmp_path: Path, text: str) -> Engine:
    """An engine over a copy of the knowledge base with ``text`` (rules) added to kb/rules/common.lp."""
    from cptkb.kb import KB_DIR

    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with (kb / "rules" / "common.lp").open("a") as f:
        f.write(text)
    return Engine(kb)


def _rule(engine: Engine, start: str):  # type: ignore[no-untyped-def]
    (rule,) = [r for r in engine.program.rules if r.single.startswith(start)]
    return rule


def test_the_fact_rules_of_the_knowledge_base(engine: Engine) -> None:
    """loader._fact_of: a rule whose derivations depend on one input fact at a time, with the negated
    input literals that block it; a rule with two input facts, an aggregate or an input fact read
    through a rule's head is not one."""
    assert _rule(engine, "in_force(C) :- cpt_code(").fact == (("enc_date", 1), ())
    assert _rule(engine, "ncci_loaded(T) :- enc_edition(").fact == (("enc_edition", 3), ())
    assert _rule(engine, 'ncs_study(N,S,T,B) :- enc_ncs(').fact == (
        ("enc_ncs", 5),
        (("switch", 1, (("c", "branches_as_one_study"),)),),
    )
    assert _rule(engine, 'ncs_study(N,S,T,"") :- enc_ncs(').fact is None  # enc_ncs and switch: two input facts
    assert _rule(engine, "contractor_list(L) :- enc_mac(").fact is None  # enc_mac and enc_date
    assert _rule(engine, "limb_muscle_count(").fact is None  # reads a derived predicate, through an aggregate
    # every fact rule keeps the record of its variables' values, which its derivations are rebuilt from
    facts = [r for r in engine.program.rules if r.fact is not None]
    assert all(r.marked and r.record is not None for r in facts)
    heads = {r.head[0][0] for r in facts}
    assert {"in_force", "ncs_study", "emg_performed", "ncs_performed", "ncci_loaded"} <= heads
    # a fact rule of an entry group is the group's (see the next test)
    assert _rule(engine, "emg_root(I,R) :- enc_emg(I,M,_)").fact is None


def test_the_entry_groups_of_the_knowledge_base(engine: Engine) -> None:
    """loader._entry_groups: the rules whose every encounter literal reads one needle EMG entry (I),
    directly or through a predicate keyed by it, form one group that reads the entry's input facts
    at their first argument; they run in the order of their strata (a muscle's region before its
    limb, its limb before the limb's muscles). A rule that reads the entry through an anonymous
    variable (limb_examined) is one, by the name its record twin gives the variable
    (loader._twin_portable); a rule that reads a predicate not keyed by the entry
    (paraspinal_related reads limb_examined) or an aggregate is not."""
    program = engine.program
    (group,) = program.entries
    assert group.reads == tuple(
        ((name, arity), 0)
        for name, arity in (("enc_emg", 3), ("enc_emg_level", 2), ("enc_emg_nerve", 2), ("enc_emg_region", 2), ("enc_emg_root", 2))
    )
    assert group.placeable  # the rules only join on I (loader._placeable)
    texts = [program.rules[i].single for i in group.rules]
    starts = [
        "emg_region(I,G) :- enc_emg(I,M,_)",
        "emg_region(I,G) :- enc_emg_region(",
        "emg_root(I,R) :- enc_emg(I,M,_)",
        "limb_entry(I,L) :- ",
        "limb_examined(L) :- limb_entry(_,L)",
        "limb_muscle(L,M) :- limb_entry(I,L)",
        "limb_nerve(L,N) :- ",
        "limb_root(L,R) :- limb_entry(I,L)",
        "paraspinal_entry(I,Grp) :- ",
        "emg_site(I,larynx) :- ",
        "sphincter_examined(I) :- ",
    ]
    at = {start: next(n for n, t in enumerate(texts) if t.startswith(start)) for start in starts}
    assert at["emg_region(I,G) :- enc_emg(I,M,_)"] < at["limb_entry(I,L) :- "] < at["limb_muscle(L,M) :- limb_entry(I,L)"]
    assert at["limb_entry(I,L) :- "] < at["limb_examined(L) :- limb_entry(_,L)"]
    assert all(program.rules[i].entry and program.rules[i].fact is None for i in group.rules)
    # the entry's variable, by its slot in each rule's record: I, or the name the record twin gives
    # an anonymous one
    variables = {texts[n]: program.rules[i].record[1][slot] for n, (i, slot) in enumerate(zip(group.rules, group.slots))}
    assert variables.pop("limb_examined(L) :- limb_entry(_,L).") == "Anon__1"
    assert variables.pop("emg_performed :- enc_emg(_,_,_).") == "Anon__1"
    assert variables.pop('emg_unit("51785",session) :- sphincter_examined(_).') == "Anon__1"
    assert set(variables.values()) == {"I"}
    for other in ("paraspinal_related(I,L) :- ", "limb_muscle_count(", "emg_site(I,cervical_paraspinal)"):
        assert not _rule(engine, other).entry, other
    assert sum(r.entry for r in program.rules) == len(group.rules)


def test_a_traced_batch_grounds_a_fact_rule_as_written(engine: Engine) -> None:
    """With the trace a batch grounds a fact rule as written (no record twin, no record shown); an
    encounter alone and a batch without the trace are as before."""
    program = engine.program
    rule = _rule(engine, "in_force(C) :- cpt_code(")
    name = rule.record[0]
    batch = program.select(frozenset(program.dynamic), True, text=True)
    assert rule.text in batch and f"#show {name}/" not in batch and f"{name}(K__enc" not in batch
    entry = _rule(engine, "limb_entry(I,L) :- ")  # so is a rule of an entry group
    assert entry.text in batch and f"#show {entry.record[0]}/" not in batch and f"{entry.record[0]}(K__enc" not in batch
    other = _rule(engine, "limb_muscle_count(")
    assert other.record is not None and f"#show {other.record[0]}/" in batch  # a rule on derived atoms keeps its records
    single = program.select(frozenset(program.dynamic), True, text=True, single=True)
    assert rule.single_twins in single and rule.single not in single.split("\n")
    untraced = program.select(frozenset(program.dynamic), False, text=True)
    assert rule.text in untraced


def test_a_batch_gives_each_encounter_the_derivations_of_its_facts(engine: Engine) -> None:
    """The derivations through each fact equal those of each encounter evaluated alone: encounters
    of the same date share the codes in force on it, an entry with roots given blocks the anatomy
    table's roots for that entry only, the branches_as_one_study switch blocks the per-branch study
    rule, and a fact given twice gives its derivations once. Source: kb/data/catalog.lp (95900 in
    force only in 2012)."""
    ncs = [
        {"nerve": "median", "side": "left", "study": "motor"},
        {"nerve": "median", "side": "left", "study": "sensory"},
    ]
    encounters = [
        {"id": "a", "date_of_service": "2012-06-01", "needle_emg": MUSCLES},
        {"id": "b", "date_of_service": "2024-05-01", "needle_emg": MUSCLES, "nerve_conduction": ncs},
        {"id": "c", "date_of_service": "2012-06-01", "needle_emg": MUSCLES[:2]},
        {
            "id": "d",
            "date_of_service": "2024-05-01",
            "diagnoses": ["G56.01", "G56.01"],
            "needle_emg": [dict(MUSCLES[0], roots=["C8"]), *MUSCLES[1:]],
        },
    ]
    for switches in (None, {"branches_as_one_study": True}):
        results = list(engine.evaluate_many(encounters, switches=switches, trace=True))
        forced = [{str(d.head) for d in r.derivations if d.rule == "catalog.in_force"} for r in results]
        assert forced[0] == forced[2] and forced[1] == forced[3] and len(forced[0]) > 20
        assert 'in_force("95900")' in forced[0] and 'in_force("95900")' not in forced[1]
        roots = [sorted(str(d.facts[0]) for d in r.derivations if d.rule == "anatomy.root") for r in results]
        assert roots[1] == roots[0] and len(roots[0]) == 6  # APB and FDI at C8 and T1, EDC at C7 and C8
        assert len(roots[3]) == 4 and not any("enc_emg(0," in f for f in roots[3])  # entry 0: its roots given
        given = [d for d in results[3].derivations if d.rule == "anatomy.root_given"]
        assert [str(d.head) for d in given] == ["emg_root(0,c8)"]
        studies = [d.rule for d in results[1].derivations if d.rule.startswith("ncs.study")]
        assert studies == (["ncs.study"] * 2 if switches is None else ["ncs.study.branches_merged"] * 2)
        assert [d.rule for d in results[3].derivations].count("necessity.max_studies") > 1
        for encounter, result in zip(encounters, results):
            alone = engine.evaluate(encounter, switches=switches, trace=True)
            assert result.derivations == alone.derivations, (encounter["id"], switches)


def test_the_derivations_through_a_fact_are_worked_out_once_and_kept(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A fact or an entry met again is not worked out again; the kept derivations are held in two generations
    (one met again in the older moves to the newer; when the newer holds KEPT_LIMIT derivations the
    older is dropped), so what recent batches met stays and the rest is forgotten and worked out
    again, the same."""
    limit = 300
    monkeypatch.setattr(byfact, "KEPT_LIMIT", limit)
    fresh = Engine()
    worked: list[tuple[object, ...]] = []
    work_out, run_entry = fresh._by_fact._work_out, fresh._by_fact._run_entry

    def spy(rule, values, store):  # type: ignore[no-untyped-def]
        worked.append((rule.index, values))
        return work_out(rule, values, store)

    def spy_entry(group, value, facts, store):  # type: ignore[no-untyped-def]
        worked.append((group.number, value, tuple(facts)))
        return run_entry(group, value, facts, store)

    fresh._by_fact._work_out = spy  # type: ignore[method-assign]
    fresh._by_fact._run_entry = spy_entry  # type: ignore[method-assign]

    def evaluate(encounters: list[dict]) -> list[object]:
        worked.clear()
        return [r.derivations for r in fresh.evaluate_many(encounters, trace=True, batch_size=10)]

    first, others = list(generate(10, seed=31, recent=30)), list(generate(200, seed=32))
    traced = evaluate(first)
    assert len(worked) > 10 and len(set(worked)) == len(worked)  # each rule and fact, each entry, once
    assert sum(len(w) == 3 for w in worked) > 10  # entries among them
    assert evaluate(first) == traced and worked == []  # all kept
    derivations = evaluate(others)
    # each group of rules keeps its own (a stream of new dates does not push out the entries met); a
    # generation is full from the batch that takes it past the limit: at most a batch's derivations more
    most = max(sum(len(d) for d in derivations[i : i + 10]) for i in range(0, len(derivations), 10))
    groups = fresh._by_fact.kept.values()
    assert len(groups) > 3 and any(kept.older for kept in groups)
    for kept in groups:
        for generation in (kept.newer, kept.older):
            assert sum(len(got) for got in generation.values()) < limit + most
    assert sum(len(got) for kept in groups for got in kept.older.values()) > limit
    assert evaluate(first) == traced and worked != []  # forgotten: worked out again, the same
    for encounter, result in zip(others[:40], derivations):
        assert result == fresh.evaluate(encounter, trace=True).derivations, encounter["id"]


def test_a_rule_is_a_fact_rule_only_when_one_fact_decides_it(engine: Engine, tmp_path: Path) -> None:
    """loader._fact_of and loader._entry_groups over rules added to a copy of the knowledge base: a
    negated input literal whose variable the reference data binds, or two positive input literals,
    leave a rule to its entry group if every encounter literal reads one entry (entry_trunk by the
    entry I, entry_pair by the muscle M, entry_not_named by I read at two positions of enc_emg), else
    to its batch records; an input predicate some rule defines is neither; the batch derivations of
    all equal those of the encounter evaluated alone."""

    other = _with_rules(
        tmp_path,
        "\n"
        'entry_trunk(I, T) :- rule("anatomy.nerve"), enc_emg(I, M, _), muscle(M, _, N), trunk_of(N, T), not enc_emg_nerve(I, T).\n'
        'entry_side(I, S) :- rule("anatomy.nerve"), enc_emg(I, _, S), not enc_emg_root(I, _), not switch(branches_as_one_study).\n'
        'entry_pair(I, J) :- rule("anatomy.nerve"), enc_emg(I, M, _), enc_emg(J, M, _), I != J.\n'
        'entry_not_named(I) :- rule("anatomy.nerve"), enc_emg(I, _, _), not enc_emg(_, I, _).\n'
        'entry_unsure(I) :- rule("anatomy.nerve"), enc_emg(I, _, _), not enc_emg_level(_, _).\n'
        'enc_pos("99") :- rule("anatomy.nerve"), emg_performed.\n'
        'pos_checked(P) :- rule("anatomy.nerve"), enc_pos(P).\n',
    )
    assert _rule(other, "entry_trunk(").fact is None  # T is bound by the reference data
    assert _rule(other, "entry_pair(").fact is None  # two enc_emg facts
    assert _rule(other, "pos_checked(").fact is None  # enc_pos is defined by a rule
    assert _rule(other, "facility_setting :- enc_pos(").fact is None  # so for every rule that reads it
    for start in ("entry_side(", "pos_checked(", "facility_setting :- enc_pos(", "entry_unsure("):
        assert not _rule(other, start).entry, start  # a literal without the entry (switch, enc_pos, enc_emg_level)
    # entry_not_named reads enc_emg at its first and second arguments, so it links the rules that
    # read a muscle entry (I) with the one that reads a muscle (entry_pair): one group reading both
    (group,) = other.program.entries
    heads = {other.program.rules[i].head[0][0] for i in group.rules}
    assert {"entry_trunk", "entry_pair", "entry_not_named", "limb_entry"} <= heads
    assert not group.placeable  # enc_emg read at two positions holds two entries' values
    assert group.reads == ((("enc_emg", 3), 0), (("enc_emg", 3), 1), *engine_reads(engine)[1:])
    assert _rule(other, "entry_side(").fact == (
        ("enc_emg", 3),
        (("enc_emg_root", 2, (("v", 0), None)), ("switch", 1, (("c", "branches_as_one_study"),))),
    )
    encounters = [
        {"id": "x", "date_of_service": "2024-05-01", "needle_emg": [*MUSCLES, dict(MUSCLES[0], side="right")]},
        {"id": "y", "date_of_service": "2024-05-01", "needle_emg": [dict(MUSCLES[0], roots=["C8"]), MUSCLES[1]]},
    ]
    for switches in (None, {"branches_as_one_study": True}):
        results = list(other.evaluate_many(encounters, switches=switches, trace=True))
        sides = [sorted(str(d.head) for d in r.derivations if str(d.head).startswith("entry_side(")) for r in results]
        expected = [["entry_side(0,left)", "entry_side(1,left)", "entry_side(2,left)", "entry_side(3,right)"], ["entry_side(1,left)"]]
        assert sides == (expected if switches is None else [[], []])
        pairs = [sorted(str(d.head) for d in r.derivations if str(d.head).startswith("entry_pair(")) for r in results]
        assert pairs == [["entry_pair(0,3)", "entry_pair(3,0)"], []]  # APB on both sides
        # each entry once: the fact enc_emg(0,"APB",left) is also read as the entry "APB" (second argument)
        named = [sorted(str(d.head) for d in r.derivations if str(d.head).startswith("entry_not_named(")) for r in results]
        assert named == [[f"entry_not_named({i})" for i in range(4)], ["entry_not_named(0)", "entry_not_named(1)"]]
        for encounter, result in zip(encounters, results):
            assert result.derivations == other.evaluate(encounter, switches=switches, trace=True).derivations


def test_an_entry_is_worked_out_once_for_every_entry_with_the_same_facts(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """byfact.FactRules._placed: the knowledge base's entry group only joins on the entry I, so its
    rules run once over an entry's facts with a placeholder in place of I, and an entry with the same
    facts at another index (the same muscle and side, listed elsewhere) is rebuilt from the values
    kept, I put in; the derivations equal those of the encounters evaluated alone. A group with a
    rule that compares I (entry_first, added to a copy of the knowledge base) is not placeable and
    runs per entry."""
    from cptkb.reasoner import byfact

    runs: list[int] = []
    run_entry = byfact.FactRules._run_entry

    def spy(self, group, value, facts, store):  # type: ignore[no-untyped-def]
        runs.append(value)
        return run_entry(self, group, value, facts, store)

    monkeypatch.setattr(byfact.FactRules, "_run_entry", spy)
    fresh = Engine()
    first = {"id": "x", "date_of_service": "2024-05-01", "needle_emg": MUSCLES}
    again = {"id": "y", "date_of_service": "2024-05-02", "needle_emg": [MUSCLES[2], MUSCLES[0], MUSCLES[1]]}
    batch = list(fresh.evaluate_many([first, dict(first, id="x2", date_of_service="2024-05-03")], trace=True))
    assert runs == [byfact.PLACEHOLDER] * 3  # one run per muscle entry's facts, none per entry number
    later = list(fresh.evaluate_many([again, dict(again, id="y2")], trace=True))
    assert runs == [byfact.PLACEHOLDER] * 3  # the same facts at other indexes: rebuilt from the values kept
    heads = sorted(str(d.head) for d in later[0].derivations if str(d.head).startswith("limb_entry("))
    assert heads == ["limb_entry(0,left_upper)", "limb_entry(1,left_upper)", "limb_entry(2,left_upper)"]
    for encounter, result in zip([first, again], [batch[0], later[0]]):
        alone = Engine().evaluate(encounter, trace=True)
        assert result.derivations == alone.derivations and result.codes == alone.codes

    other = _with_rules(tmp_path, '\nentry_first(I) :- rule("anatomy.nerve"), enc_emg(I, _, _), I < 1.\n')
    (group,) = other.program.entries
    assert "entry_first" in {other.program.rules[i].head[0][0] for i in group.rules} and not group.placeable
    runs.clear()
    results = list(other.evaluate_many([first, again], trace=True))
    assert len(runs) == 6 and byfact.PLACEHOLDER not in runs  # each entry of each encounter run with its own I
    for encounter, result in zip([first, again], results):
        assert [str(d.head) for d in result.derivations if d.head.name == "entry_first"] == ["entry_first(0)"]
        assert result.derivations == other.evaluate(encounter, trace=True).derivations


def engine_reads(engine: Engine) -> tuple[tuple[tuple[str, int], int], ...]:
    """The reads of the knowledge base's one entry group (test_the_entry_groups_of_the_knowledge_base)."""
    (group,) = engine.program.entries
    return group.reads


def test_an_engine_is_freed_when_no_longer_referred_to() -> None:
    """The engine's fact rules are given what they need, not the engine: after a traced batch the
    engine is freed as soon as the caller lets go of it (gc.freeze at load keeps the collector from
    ever freeing an engine caught in a reference cycle)."""
    import gc
    import weakref

    fresh = Engine()
    list(fresh.evaluate_many([{"id": "f", "date_of_service": "2024-05-01", "needle_emg": MUSCLES}] * 2, trace=True))
    assert fresh._by_fact.kept
    gone = weakref.ref(fresh)
    del fresh
    gc.collect()
    assert gone() is None


def test_the_codes_in_force_are_worked_out_once_per_class_of_dates(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """byfact._Compared (docs/knowledge-base.md, "The rule marker and provenance"): in_force only
    compares the date with the codes' first and last dates, so the codes in force are the same for
    every date between the same two of those dates; the rule is joined with the reference data once
    per such class of dates, and a date of a class met is given the values of the class's first date
    with its own put in. The derivations equal those of the rule joined through each date, at and
    around every boundary. In a copy of the knowledge base, a date compared with a string, or read
    by another literal, is not classed; one compared with a number constant is, and batches equal
    encounters evaluated alone."""

    fresh = Engine()
    rules = fresh._by_fact
    (rule,) = [r for r in rules._rules.values() if fresh.program.rules[r.index].single.startswith("in_force(C) :- cpt_code(")]
    reference = rules._reference()
    compared = byfact._compared(fresh.program, rule, reference)
    dates = sorted({terms.term(v).number for args in reference.full("cpt_code", 3) for v in args[1:]})
    assert compared is not None and [(p, n) for p, _, n in compared.positions] == [(0, dates)]
    joins: list[int] = []
    hold = byfact._OneFact.hold

    def spy(self, sig, values):  # type: ignore[no-untyped-def]
        joins.append(values[0])
        return hold(self, sig, values)

    monkeypatch.setattr(byfact._OneFact, "hold", spy)
    store = byfact._OneFact(reference, [])
    plan, rebuild = rules._compiled(rule.index)
    days = sorted({d + k for d in dates for k in (-1, 0, 1)} | {20150614, 20200229, 20260101})
    for day in days:
        value = clingo.Number(day)._rep
        got = sorted(rules._work_out(rule, (value,), store), key=lambda d: d._key)
        store._held = {("enc_date", 1): [(0, (value,))]}
        solutions: dict[tuple[int, ...], None] = {}
        plan.run(store, solutions)
        joined = sorted((rebuild.run(v) for v in solutions), key=lambda d: d._key)
        assert got == joined and [d._key for d in got] == [d._key for d in joined], day
    classes = {compared.key((clingo.Number(day)._rep,)) for day in days}
    assert len(joins) == len(classes) == 2 * len(dates) + 1  # below, at and above each date: once each

    other = _with_rules(
        tmp_path,
        "\n"
        'named_date(C) :- rule("catalog.in_force"), cpt_code(C, F, T), enc_date(D), F <= D, D <= T, D != "x".\n'
        'first_day(C) :- rule("catalog.in_force"), cpt_code(C, D, _), enc_date(D).\n'
        'late_date(D) :- rule("catalog.in_force"), enc_date(D), D > 20200101.\n',
    )
    by_head = {other.program.rules[r.index].head[0][0]: r for r in other._by_fact._rules.values()}
    assert byfact._compared(other.program, by_head["named_date"], other._by_fact._reference()) is None
    assert byfact._compared(other.program, by_head["first_day"], other._by_fact._reference()) is None
    late = byfact._compared(other.program, by_head["late_date"], other._by_fact._reference())
    assert late is not None and [n for _, _, n in late.positions] == [[20200101]]
    encounters = [
        {"id": f"d{n}", "date_of_service": day, "needle_emg": MUSCLES}
        for n, day in enumerate(["2012-01-01", "2019-12-31", "2020-01-01", "2020-01-02", "2024-05-01", "2012-01-01", "2024-05-03"])
    ]
    for encounter, result in zip(encounters, other.evaluate_many(encounters, trace=True, batch_size=3)):
        heads = [str(d.head) for d in result.derivations if d.head.name in ("late_date", "first_day")]
        assert ("late_date(20200102)" in heads) == (encounter["date_of_service"] == "2020-01-02")
        assert (encounter["date_of_service"] == "2012-01-01") == any(h.startswith("first_day(") for h in heads)
        assert result.derivations == other.evaluate(encounter, trace=True).derivations
