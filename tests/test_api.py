"""The Python API: one entry point, a reusable engine, batches, determinism, the trace.

Sources: cptkb encounter contract v1; docs/contract.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import clingo
import pytest

import cptkb
from cptkb import InvalidEncounter
from cptkb.reasoner.errors import KnowledgeBaseFault
from cptkb.explain.graph import build_graph
from cptkb.reasoner import bottomup
from cptkb.reasoner.engine import Engine
from cptkb.reasoner.whynot import answer_set

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402

ENC = {
    "id": "api-1",
    "date_of_service": "2024-05-01",
    "place_of_service": "22",
    "needle_emg": [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps", "deltoid")],
    "nerve_conduction": [
        {"nerve": "median", "side": "right", "study": "motor", "f_wave": True},
        {"nerve": "median", "side": "right", "study": "sensory"},
        {"nerve": "ulnar", "side": "right", "study": "motor"},
    ],
}


def test_evaluate_entry_point() -> None:
    """cptkb.evaluate: a complete right arm with three studies in a hospital outpatient department:
    95908-26 and 95886-26 (research note C-6, C-15, section 5)."""
    result = cptkb.evaluate(ENC)
    assert [(c.code, c.units, c.modifiers) for c in result.codes] == [("95908", 1, ("26",)), ("95886", 1, ("26",))]
    assert result.claim_review is None
    assert "claim_review" not in result.to_dict()


def test_batch_equals_single(engine: Engine) -> None:
    """A batch grounds encounters side by side without mixing them: each result equals its single evaluation."""
    other = {"id": "api-2", "date_of_service": "2012-06-01", "nerve_conduction": [{"nerve": "tibial", "side": "left", "study": "h_reflex"}]}
    batch = list(engine.evaluate_many([ENC, {"id": "bad"}, other, ENC]))
    assert isinstance(batch[1], InvalidEncounter)
    singles = [engine.evaluate(ENC), engine.evaluate(other)]
    assert batch[0].to_dict() == singles[0].to_dict() == batch[3].to_dict()
    assert batch[2].to_dict() == singles[1].to_dict()
    assert [c.code for c in batch[2].codes] == ["95934"]


def test_single_grounding_equals_batch_grounding_over_the_corpus(grounding_engine: Engine, alone_engine: Engine, valid_cases) -> None:
    """One encounter alone is evaluated bottom-up by the reasoner (reasoner/bottomup.py), or grounded
    with the rules as written (no encounter number), a batch is grounded with the number
    (reasoner/loader.py, EncounterRule.single): over every valid case of the corpus each way alone
    gives the batch's result and derivations."""
    plain = [c for c in valid_cases if not c.switches]
    assert len(plain) > 200
    encounters = [c.encounter for c in plain]
    batch = list(grounding_engine.evaluate_many(encounters, trace=True, batch_size=50))
    for case, together in zip(plain, batch):
        alone = alone_engine.evaluate(case.encounter, trace=True)
        assert alone.to_dict() == together.to_dict(), case.name
        assert alone.derivations == together.derivations, case.name


def test_guarded_selection_equals_batch_grounding_over_generated_encounters(
    engine: Engine, grounding_engine: Engine, alone_engine: Engine
) -> None:
    """An encounter alone is grounded without the rules whose guards its facts fail (loader.Guard), or
    evaluated bottom-up by the reasoner; a batch is grounded without that test. Over 300 generated
    encounters (every rule family, facility and office settings, every provider role) each way alone
    gives the batch's result and derivations."""
    encounters = list(generate(300, seed=5))
    batch = list(grounding_engine.evaluate_many(encounters, trace=True, batch_size=100))
    left_out = 0
    for encounter, together in zip(encounters, batch):
        alone = alone_engine.evaluate(encounter, trace=True)
        assert alone.to_dict() == together.to_dict(), encounter["id"]
        assert alone.derivations == together.derivations, encounter["id"]
        enc = engine.validate(encounter)
        facts = enc.facts + engine._ncci_facts(enc)
        inputs = frozenset((name, len(args)) for name, args in facts)
        every = engine.program.select(inputs, False, single=True)
        guarded = engine.program.select(inputs, False, single=True, satisfied=engine.program.satisfied(facts))
        left_out += len(every) - len(guarded)
    assert left_out > 300 * 5  # the guards do leave rules out


def _whole_program_atoms(engine: Engine, encounter: dict) -> list[str]:
    """The shown atoms of an encounter grounded with every rule of the knowledge base (no rule
    selection, no guards; whynot.answer_set), as text without the encounter number."""
    shown = {(name, arity + 1) for name, arity in engine.program.shown}
    atoms = answer_set(engine, engine.validate(encounter))
    return sorted(
        str(clingo.Function(a.name, a.arguments[1:])) for a in atoms if (a.name, len(a.arguments)) in shown
    )


def test_rule_selection_and_guards_equal_the_whole_program(alone_engine: Engine, valid_cases) -> None:
    """An encounter grounded alone grounds only the rules its input can make fire (rule selection by
    predicate and argument shape, and guards: reasoner/loader.py, reasoner/guards.py); evaluated
    bottom-up, it runs only the rules whose positive body has atoms (reasoner/bottomup.py). Over every
    valid case of the corpus and 100 generated encounters its shown atoms equal those of the whole
    knowledge base grounded by clingo with no selection at all, and its result with the trace (where marked
    rules give way to their derivation records and projections) equals the one without."""
    engine = alone_engine
    encounters = [c.encounter for c in valid_cases if not c.switches] + list(generate(100, seed=11))
    for encounter in encounters:
        (alone,) = engine.solve([engine.validate(encounter)])
        assert sorted(str(a) for a in alone) == _whole_program_atoms(engine, encounter), encounter["id"]
        assert engine.evaluate(encounter, trace=True).to_dict() == engine.evaluate(encounter).to_dict(), encounter["id"]


def test_rules_are_selected_by_the_shape_of_what_they_need(engine: Engine) -> None:
    """A rule is grounded only when a chosen rule's head can derive an atom of the shape its body
    needs (LoadedProgram.select): the 2012 H-reflex check (kb/rules/ncs.lp) needs a per-study
    ncs_unit(C, study(...)), which only the 2012 per-nerve rules derive (95934 in force in 2012, not
    after); from 2013 the ladder's ncs_unit(C, session) cannot match it, and the finding built on
    it goes too."""

    def chosen(date: str) -> list[str]:
        enc = engine.validate({"id": "h", "date_of_service": date, "nerve_conduction": [{"nerve": "tibial", "side": "left", "study": "h_reflex"}]})
        facts = enc.facts + engine._ncci_facts(enc)
        inputs = frozenset((name, len(args)) for name, args in facts)
        statements = engine.program.select(inputs, False, single=True, satisfied=engine.program.satisfied(facts))
        return [str(s) for s in statements if "ncs_2012" in str(s)]

    # (as grounded: anonymous variables of positive atoms named, see loader._name_anonymous)
    assert chosen("2012-06-01")[:2] == [
        "ncs_2012_unconfirmed(C,h_reflex) :- ncs_unit(C,study(Anon__1,Anon__2,h_reflex,Anon__3)).",
        'finding("kb.unconfirmed.ncs_2012",info,C) :- ncs_2012_unconfirmed(C,Anon__1).',
    ]
    assert chosen("2014-06-01") == []


def test_guards_of_a_reference_join_a_constant_and_a_negative_reference_literal(engine: Engine) -> None:
    """The guards the loader derives (kb/rules/modifiers.lp, kb/rules/provider.lp): a place of service
    among the facility ones for facility_setting; a technician for the technician finding; a specialty
    outside the expected ones for the specialty finding."""
    program = engine.program

    def guards_of(head: str) -> list:
        (rule,) = [r for r in program.rules if r.single.startswith(head)]
        return [program.guards.guards[g] for g in rule.guards]

    (facility,) = guards_of("facility_setting :-")
    assert (facility.sig, facility.position, facility.inside) == (("enc_pos", 1), 0, True)
    assert facility.values == frozenset({'"19"', '"21"', '"22"', '"23"'})
    assert [(g.sig, g.fixed, g.position) for g in guards_of('finding("provider.technician_emg"')] == [
        (("enc_role", 1), ((0, "technician"),), None)
    ]
    specialty = guards_of('finding("provider.specialty"')
    outside = [g for g in specialty if not g.inside]
    assert [(g.sig, g.position) for g in outside] == [(("enc_specialty", 1), 0)]
    assert '"neurology"' in outside[0].values
    office = {"id": "o", "date_of_service": "2024-05-01", "place_of_service": "11"}
    facts = engine.validate(office).facts
    assert program.guards.guards.index(facility) not in program.satisfied(facts)
    facts = engine.validate({**office, "place_of_service": "22"}).facts
    assert program.guards.guards.index(facility) in program.satisfied(facts)


def test_guards_on_derived_predicates_follow_the_values_their_arguments_can_take(engine: Engine) -> None:
    """Guards on derived literals (reasoner/guards.py): the larynx site rule needs a muscle whose region
    is the larynx (emg_region/2 takes its region from the anatomy table, kb/rules/common.lp); the 2012
    per-nerve motor rule needs 95900 in force on the date of service (in_force/1 from the catalog's
    dates, kb/rules/common.lp)."""
    program = engine.program

    def guard_of(head: str, sig: tuple[str, int]) -> int:
        (rule,) = [r for r in program.rules if r.single.startswith(head)]
        (found,) = [g for g in rule.guards if program.guards.guards[g].sig == sig]
        return found

    larynx = guard_of("emg_site(I,larynx) :-", ("emg_region", 2))
    motor_2012 = guard_of('ncs_unit("95900"', ("in_force", 1))
    arm = {
        "id": "g",
        "date_of_service": "2012-06-01",
        "needle_emg": [{"muscle": "APB", "side": "left"}],
        "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor"}],
    }
    met = program.satisfied(engine.validate(arm).facts)
    assert larynx not in met and motor_2012 in met
    later = {**arm, "date_of_service": "2013-01-01", "needle_emg": [{"muscle": "thyroarytenoid", "side": "left"}]}
    met = program.satisfied(engine.validate(later).facts)
    assert larynx in met and motor_2012 not in met


def test_trace_does_not_change_the_result(engine: Engine) -> None:
    """The trace is extra: codes, findings and review are the same with and without it."""
    plain = engine.evaluate(ENC)
    traced = engine.evaluate(ENC, trace=True)
    assert json.dumps(plain.to_dict()) == json.dumps(traced.to_dict())
    assert plain.derivations == [] and traced.derivations


def test_every_code_and_finding_is_reachable_from_encounter_facts(engine: Engine) -> None:
    """In the trace graph every code and finding node has an encounter fact among its ancestors,
    and every rule node carries its id, source and evidence."""
    import networkx as nx

    result = engine.evaluate(ENC, trace=True)
    graph = build_graph(result, engine.vocab)
    outputs = [n for n, d in graph.nodes(data=True) if d["kind"] in ("code", "finding")]
    assert outputs
    for node in outputs:
        ancestors = nx.ancestors(graph, node)
        assert any(graph.nodes[a]["kind"] == "fact" for a in ancestors), node
    for _, data in graph.nodes(data=True):
        if data["kind"] == "rule":
            assert data["rule"] and data["document"] and data["evidence"] in ("verified", "secondary", "inferred", "unconfirmed")


def test_absence_is_a_node(engine: Engine) -> None:
    """Conditions that held because something was absent are nodes: 95860 needs no same-day nerve
    conduction (research note C-1)."""
    enc = {"id": "abs", "date_of_service": "2024-05-01", "needle_emg": ENC["needle_emg"]}
    result = engine.evaluate(enc, trace=True)
    assert [c.code for c in result.codes] == ["95860"]
    graph = build_graph(result, engine.vocab)
    assert "absent:same_day_ncs" in graph
    (app,) = [t for _, t in graph.out_edges("absent:same_day_ncs")]
    assert graph.nodes[app]["rule"] == "emg.code.limbs"


def test_engine_from_a_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An engine can load a knowledge base from any directory holding main.lp."""
    import shutil

    from cptkb.kb import KB_DIR

    shutil.copytree(KB_DIR, tmp_path / "kb", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    engine = Engine(tmp_path / "kb")
    assert [c.code for c in engine.evaluate(ENC).codes] == ["95908", "95886"]


def test_corpus_outputs_reachable_from_facts(engine: Engine, valid_cases: list) -> None:
    """Property over the whole case corpus: every code and finding of every result is reached in the
    trace graph from encounter facts, and tracing changes nothing in the result."""
    import networkx as nx

    for case in valid_cases:
        result = engine.evaluate(case.encounter, case.switches, trace=True)
        assert result.to_dict() == engine.evaluate(case.encounter, case.switches).to_dict(), case.name
        graph = build_graph(result, engine.vocab)
        for node, data in graph.nodes(data=True):
            if data["kind"] in ("code", "finding"):
                kinds = {graph.nodes[a]["kind"] for a in nx.ancestors(graph, node)}
                assert "fact" in kinds, (case.name, node)
    assert len(valid_cases) >= 200


def test_each_finding_node_is_linked_from_its_own_atom(engine: Engine) -> None:
    """Two findings of one rule (two codes missing from a claim) each hang from their own finding atom."""
    enc = dict(ENC, claim=[])
    result = engine.evaluate(enc, trace=True)
    graph = build_graph(result, engine.vocab)
    missing = [n for n, d in graph.nodes(data=True) if d["kind"] == "finding" and d["rule"] == "claim.code_missing"]
    assert len(missing) == 2
    sources = [next(iter(graph.predecessors(n))) for n in missing]
    assert all(len(list(graph.predecessors(n))) == 1 for n in missing)
    assert sorted(sources) == ['atom:finding("claim.code_missing",warning,"95886")', 'atom:finding("claim.code_missing",warning,"95908")']


def test_reading_the_answer_from_the_grounder_equals_solving(engine: Engine, grounding_engine: Engine, valid_cases) -> None:
    """An encounter evaluated alone reads its answer from the grounder when the rules are stratified
    (LoadedProgram.stratified), or derives it bottom-up (reasoner/bottomup.py, which needs them
    stratified too); with the solver instead, every valid case of the corpus gives the same result."""
    import copy

    solving = copy.copy(grounding_engine)
    solving.program = copy.copy(engine.program)
    solving.program.stratified = False
    solving._stratified = None
    assert not solving.bottom_up
    assert not bottomup.Stratified(solving.program, ()).available
    cases = [c for c in valid_cases if not c.switches]
    for case in cases:
        solved = solving.evaluate(case.encounter).to_dict()
        assert engine.evaluate(case.encounter).to_dict() == solved, case.name
        assert grounding_engine.evaluate(case.encounter).to_dict() == solved, case.name


def test_prepared_controls_hold_the_reference_atoms_single_evaluations_ground(engine: Engine) -> None:
    """A control prepared in the background holds the reference atoms the grounded rules of an encounter
    evaluated alone can read; those only message and check rules read (evaluated by the reasoner alone)
    or only rules over reference data read (evaluated at load) are added by a batch, which grounds every
    rule. The batch and single comparisons above show the results are unchanged."""
    rest = {(a.name, len(a.arguments)) for a in engine._static_rest}
    grounded = {sig for rule in engine.program.rules if not (rule.message or rule.check) for sig in rule.reads}
    assert rest and not rest & grounded
    assert {("nerve", 2), ("emg_code", 1)} <= rest
    assert len(engine._static_atoms) - len(engine._static_rest) == len(engine._controls._atoms)


def _given_back(engine: Engine, monkeypatch) -> list[object]:  # type: ignore[no-untyped-def]
    """The controls the engine hands back to be freed, recorded."""
    returned: list[object] = []
    give_back = engine._controls.give_back

    def record(ctl, spare=True):  # type: ignore[no-untyped-def]
        returned.append(ctl)
        give_back(ctl, spare)

    monkeypatch.setattr(engine._controls, "give_back", record)
    return returned


def test_batches_are_pipelined_and_a_consumer_that_stops_early_leaves_no_control(engine: Engine, monkeypatch) -> None:
    """evaluate_many grounds a batch while the one before is read back (docs/contract.md, "Python API"): it
    reads the input one batch ahead of the results, and a consumer that stops early leaves no batch's
    control behind (the batch started ahead is freed with the one being read)."""
    returned = _given_back(engine, monkeypatch)
    read: list[int] = []

    def source():  # type: ignore[no-untyped-def]
        for n in range(10):
            read.append(n)
            yield dict(ENC, id=f"p{n}")

    results = engine.evaluate_many(source(), trace=True, batch_size=3)
    first = next(results)
    assert first.id == "p0" and read == list(range(6))  # the second batch was started before the first is yielded
    assert len(returned) == 1  # the first batch's control, once read
    results.close()
    assert len(returned) == 2 and returned[0] is not returned[1]
    whole = list(engine.evaluate_many((dict(ENC, id=f"p{n}") for n in range(10)), trace=True, batch_size=3))
    assert [r.id for r in whole] == [f"p{n}" for n in range(10)]
    assert all(r.to_dict() == dict(first.to_dict(), id=r.id) and r.derivations == first.derivations for r in whole)


def test_a_fault_in_a_pipelined_batch_frees_the_batch_started_ahead(engine: Engine, monkeypatch) -> None:
    """A knowledge-base fault raised while a batch is read back propagates from evaluate_many, and the
    batch started ahead of it is freed too."""
    returned = _given_back(engine, monkeypatch)

    def fault(encounters, per):  # type: ignore[no-untyped-def]
        raise KnowledgeBaseFault("planted")

    monkeypatch.setattr(engine, "_check_faults", fault)
    with pytest.raises(KnowledgeBaseFault, match="planted"):
        list(engine.evaluate_many([dict(ENC, id=f"f{n}") for n in range(6)], batch_size=2))
    assert len(returned) == 2  # the batch that raised and the one started ahead of it


def test_a_batch_is_read_with_the_garbage_collector_paused_and_set_going_again(engine: Engine, monkeypatch) -> None:
    """evaluate_many reads a batch's model and builds its results with the cyclic garbage collector
    paused (engine._collector_paused), and sets it going again before it yields them, after a
    knowledge-base fault too; a collector the caller has turned off stays off."""
    import gc

    seen: list[bool] = []
    batch_atoms = engine._batch_atoms

    def spy(*args):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return batch_atoms(*args)

    monkeypatch.setattr(engine, "_batch_atoms", spy)
    assert gc.isenabled()
    for result in engine.evaluate_many([dict(ENC, id=f"g{n}") for n in range(4)], trace=True, batch_size=2):
        assert gc.isenabled() and result.derivations
    assert seen == [False, False]
    gc.disable()
    try:
        assert len(list(engine.evaluate_many([dict(ENC, id=f"h{n}") for n in range(2)]))) == 2
        assert not gc.isenabled() and seen == [False, False, False]
    finally:
        gc.enable()

    def fault(encounters, per):  # type: ignore[no-untyped-def]
        raise KnowledgeBaseFault("planted")

    monkeypatch.setattr(engine, "_check_faults", fault)
    with pytest.raises(KnowledgeBaseFault, match="planted"):
        list(engine.evaluate_many([dict(ENC, id=f"f{n}") for n in range(2)]))
    assert gc.isenabled()
