"""The trace of an encounter evaluated alone, worked out by the reasoner (reasoner/derive.py).

Source: docs/knowledge-base.md, "The rule marker and provenance": the derivations are what the
provenance twins derive, whether the grounder grounds the twins or the reasoner joins their bodies
over the grounded atoms. tests/test_api.py compares single evaluations (derived here) with batches
(twins grounded) over the corpus and 300 generated encounters.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
from pathlib import Path

import clingo
import pytest

from cptkb.reasoner import derive, messages, terms
from cptkb.reasoner.engine import Engine
from cptkb.reasoner.result import build_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402

RNS = {
    "id": "derive-rns",
    "date_of_service": "2024-05-14",
    "diagnoses": ["G70.00"],
    "other_tests": [
        {"test": "repetitive_stimulation", "nerve": "ulnar", "side": "right"},
        {"test": "repetitive_stimulation", "nerve": "spinal_accessory", "side": "right"},
    ],
}


def _twins_grounded(engine: Engine, encounter: dict):  # type: ignore[no-untyped-def]
    enc = engine.validate(encounter)
    (atoms,) = engine.solve([enc], trace=True, derived=False)
    assert not any(a.name == "derivations" for a in atoms)
    return build_result(enc, atoms, engine.vocab)


def test_every_marked_rule_of_the_knowledge_base_is_derived_by_the_reasoner(engine: Engine) -> None:
    """No marked rule leaves the trace to the grounded twins: each one's twins compile (a rule outside
    the fragment would silently cost every traced evaluation that chooses it the twins' grounding)."""
    marked = [r for r in engine.program.rules if r.marked]
    assert len(marked) > 150
    missing = [
        r.single
        for r in marked
        if derive.compile_twins(engine.program.named.get(r.single_twins, r.single_twins)) is None
    ]
    assert missing == []


def test_derived_equals_grounded_twins_over_generated_encounters(engine: Engine, alone_engine: Engine) -> None:
    """Over 150 generated encounters (every rule family), the derivations the reasoner works out, over
    the atoms it derived bottom-up or over those the grounder derived, equal those of the grounded
    twins, members included, and the results are the same."""
    compared = 0
    for encounter in generate(150, seed=23):
        derived = alone_engine.evaluate(encounter, trace=True)
        grounded = _twins_grounded(engine, encounter)
        assert derived.to_dict() == grounded.to_dict(), encounter["id"]
        assert derived.derivations == grounded.derivations, encounter["id"]
        compared += len(derived.derivations)
    assert compared > 150 * 40


def test_aggregate_members_with_an_anonymous_variable_are_recorded(engine: Engine, alone_engine: Engine) -> None:
    """kb/rules/necessity.lp counts repetitive stimulation studies with #count { X, S : enc_rns(_, X, S) }:
    each study counted is a member of the count's derivation, recorded in full, whether derived or grounded
    (the member twin names the condition's anonymous variable)."""
    derived = alone_engine.evaluate(RNS, trace=True)
    grounded = _twins_grounded(engine, RNS)
    (count,) = [d for d in derived.derivations if str(d.head) == "study_amount(rns,2)"]
    assert [str(m) for m in count.members] == ["enc_rns(0,ulnar,right)", "enc_rns(1,spinal_accessory,right)"]
    assert derived.derivations == grounded.derivations


def test_a_rule_the_reasoner_cannot_derive_leaves_the_trace_to_the_twins(engine: Engine, alone_engine: Engine) -> None:
    """When one chosen marked rule's twins are outside the fragment (its plan is None), the evaluation
    grounds the rules and the twins instead (bottom-up or not), with the same result and derivations."""
    other = copy.copy(alone_engine)
    other._plans = dict(engine._plans)
    for i, rule in enumerate(engine.program.rules):
        if rule.marked and "study_amount(rns" in rule.single:
            other._plans[i] = None
    enc = other.validate(RNS)
    (atoms,) = other.solve([enc], trace=True)
    assert not any(a.name == "derivations" for a in atoms) and any(a.name == "prov" for a in atoms)
    assert build_result(enc, atoms, other.vocab).derivations == engine.evaluate(RNS, trace=True).derivations


def test_an_atom_the_grounder_left_open_leaves_the_trace_to_the_twins(grounding_engine: Engine, monkeypatch) -> None:
    """An atom the grounder did not settle (never the case for a stratified knowledge base) sends the
    evaluation to the grounded twins and the solver."""

    def unsettled(*args: object) -> None:
        raise messages.Unsettled("p")

    monkeypatch.setattr(derive, "derive", unsettled)
    traced = grounding_engine.evaluate(RNS, trace=True)
    monkeypatch.undo()
    assert traced.derivations == grounding_engine.evaluate(RNS, trace=True).derivations


def test_twins_outside_the_fragment_are_not_compiled() -> None:
    """compile_twins takes the record twin and its member twins as the loader writes them, and refuses
    arithmetic, conditional literals and a record whose atoms are not the body's positive atoms."""
    ok = '_prov_p_1("r",p(X),(q(X,Y),),(),()) :- q(X,Y).'
    plan = derive.compile_twins(ok)
    assert plan is not None and plan.rule == "r" and plan.head == ("p", 1)
    for text in (
        '_prov_p_1("r",p(X),(q(X,Y),),(),()) :- q(X,Y); Z = X + 1.',
        '_prov_p_1("r",p(X),(q(X,Y),),(),()) :- q(X,Y); r(Z) : s(Z).',
        '_prov_p_1("r",p(X),(q(Y,X),),(),()) :- q(X,Y).',
        "_prov_p_1(r,p(X),(q(X,Y),),(),()) :- q(X,Y).",
        # a count without its member twin
        '_prov_p_1("r",p(N),(q(X),),(),()) :- q(X); N = #count { Y : s(X, Y) }.',
    ):
        assert derive.compile_twins(text) is None, text


def test_a_plan_joins_as_clingo_grounds() -> None:
    """A plan over a small program (a join on a shared variable, a repeated variable, a negative atom with
    an anonymous variable, a comparison, a #count with its members) gives the records and members clingo
    derives from the same twins."""
    data = "q(1,a). q(2,b). q(3,c). q(4,d). r(a,1). r(b,2). r(c,9). s(1). t(2,x). u(1,a). u(1,b). u(2,c)."
    twins = (
        '_prov_p_2("r",p(X,N),(q(X,Y),r(Y,X)),(t(X,any),),(cmp(X,"<",3),)) :- q(X,Y); r(Y,X); not t(X,_); X < 3;'
        " N = #count { Z : u(X,Z) }.\n"
        'prov_member("r",p(X,N),u(X,Z__m)) :- _prov_p_2("r",p(X,N),(q(X,Y),r(Y,X)),(t(X,any),),(cmp(X,"<",3),));'
        " u(X,Z__m)."
    )
    expected_ctl = clingo.Control(["--warn=none"])
    expected_ctl.add("base", [], data + twins + "\n#show _prov_p_2/5. #show prov_member/3.")
    expected_ctl.ground([("base", [])])
    with expected_ctl.solve(yield_=True) as handle:
        expected = sorted(str(s) for m in handle for s in m.symbols(shown=True))
    assert expected == [
        '_prov_p_2("r",p(1,2),(q(1,a),r(a,1)),(t(1,any),),(cmp(1,"<",3),))',
        'prov_member("r",p(1,2),u(1,a))',
        'prov_member("r",p(1,2),u(1,b))',
    ]
    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], data + "p(1,2).")
    ctl.ground([("base", [])])
    plan = derive.compile_twins(twins)
    assert plan is not None
    reference = derive.Reference([], {}, set())
    found, members = derive.derive([plan], derive.Indexed(messages.Atoms(ctl), reference, []))
    assert [d._key for d in found] == ['prov("r",p(1,2),(q(1,a),r(a,1)),(t(1,any),),(cmp(1,"<",3),))']
    assert {k[0]: sorted(str(clingo.Symbol(m)) for m in v) for k, v in members.items()} == {"r": ["u(1,a)", "u(1,b)"]}  # type: ignore[call-arg]


def test_a_batch_records_the_values_of_each_marked_rules_variables(engine: Engine) -> None:
    """loader._binding_twins: in a batch each marked rule's record twin records the values of its
    variables, its member twins and its head read that record, and the batch reads no derivation record
    in full; the reasoner rebuilds each record from the values (tests/test_api.py compares the batches'
    derivations with single evaluations over the corpus and generated encounters)."""
    marked = [r for r in engine.program.rules if r.marked]
    assert all(r.record is not None for r in marked)
    (rule,) = [r for r in marked if r.single.startswith("limb_muscle_count(")]
    name, slots = rule.record
    assert slots == ("K", "L")
    assert rule.twins.split("\n") == [
        f"{name}(K__enc,K,L,{name}) :- limb_examined(K__enc,L); K = #count {{ M: limb_muscle(K__enc,L,M) }}.",
        f'prov_member(K__enc,"emg.limb.muscle_count",limb_muscle_count(L,K),limb_muscle(L,M__m),_prov_member) :- {name}(K__enc,K,L,{name}); limb_muscle(K__enc,L,M__m).',
        f"limb_muscle_count(K__enc,L,K) :- {name}(K__enc,K,L,{name}).",
    ]
    batch = engine.program.select(frozenset(engine.program.dynamic), True, text=True)
    assert f"#show {name}/4." in batch and "#show prov_member/5." in batch and "#show prov_member/4." not in batch
    assert "#show _prov_limb_muscle_count_2/6." not in batch
    assert "_prov_limb_muscle_count_2(" not in batch  # neither its record nor its projection
    encounter = {"id": "b", "date_of_service": "2024-05-01", "needle_emg": [{"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC")]}
    result, _ = engine.evaluate_many([encounter, RNS], trace=True)  # a batch of one is evaluated alone
    assert engine._kinds  # the batch model was read
    (count,) = [d for d in result.derivations if str(d.head) == "limb_muscle_count(left_upper,3)"]
    assert (count.rule, [str(f) for f in count.facts]) == ("emg.limb.muscle_count", ["limb_examined(left_upper)"])
    assert [str(m) for m in count.members] == [
        "limb_muscle(left_upper,abductor_pollicis_brevis)",
        "limb_muscle(left_upper,extensor_digitorum_communis)",
        "limb_muscle(left_upper,first_dorsal_interosseous)",
    ]
    assert result.derivations == engine.evaluate(encounter, trace=True).derivations


def test_a_record_with_arithmetic_is_recorded_in_full_in_a_batch(tmp_path: Path) -> None:
    """A marked rule whose record holds a term the reasoner cannot build from the values of the
    variables (here N + 1) keeps its record twin in a batch, beside the other rules' value records; the
    batch's derivations equal those of the encounter evaluated alone."""
    import shutil

    from cptkb.kb import KB_DIR

    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with (kb / "rules" / "emg_limb.lp").open("a") as f:
        f.write('\nlimb_muscle_next(L, N + 1) :- rule("emg.limb.muscle_count"), limb_muscle_count(L, N).\n')
        # with an aggregate too: its members are recorded in full (prov_member/4 in a batch), beside
        # the other rules' members, which end with their tag (prov_member/5)
        f.write('limb_muscle_double(L, 2 * K) :- rule("emg.limb.muscle_count"), limb_examined(L), K = #count{ M : limb_muscle(L, M) }.\n')
    other = Engine(kb)
    (plus,) = [r for r in other.program.rules if r.single.startswith("limb_muscle_next(")]
    assert plus.record is None
    assert plus.twins.startswith('_prov_limb_muscle_next_2(K__enc,"emg.limb.muscle_count",limb_muscle_next(L,(N+1)),')
    batch = other.program.select(frozenset(other.program.dynamic), True, text=True)
    assert "limb_muscle_next(K__enc,X0,X1) :- _prov_limb_muscle_next_2(K__enc,_,limb_muscle_next(X0,X1),_,_,_)." in batch
    assert "#show prov_member/4." in batch and "#show prov_member/5." in batch
    encounter = {"id": "n", "date_of_service": "2024-05-01", "needle_emg": [{"muscle": m, "side": "left"} for m in ("APB", "FDI")]}
    result, _ = other.evaluate_many([encounter, RNS], trace=True)
    assert other._kinds[plus.twins.split("(")[0]] == "record" and other._kinds["prov_member"] == "member"
    heads = {str(d.head) for d in result.derivations}
    assert {"limb_muscle_next(left_upper,3)", "limb_muscle_count(left_upper,2)", "limb_muscle_double(left_upper,4)"} <= heads
    (double,) = [d for d in result.derivations if str(d.head) == "limb_muscle_double(left_upper,4)"]
    assert [str(m) for m in double.members] == [
        "limb_muscle(left_upper,abductor_pollicis_brevis)",
        "limb_muscle(left_upper,first_dorsal_interosseous)",
    ]
    assert result.derivations == other.evaluate(encounter, trace=True).derivations


def test_a_record_of_values_is_rebuilt_as_the_full_record_reads(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """engine._Rebuild keeps each atom of a rebuilt derivation by the values of its pattern's
    variables; the derivation and its sort key equal what result.derivation reads from the full
    record (made in clingo from the same values and patterns), whether the atoms were kept or made,
    and after the kept atoms are forgotten (a limit of 5 for all of an engine's rebuilds empties them
    again and again)."""
    from cptkb.reasoner import engine as engine_module
    from cptkb.reasoner.result import derivation

    monkeypatch.setattr(engine_module, "_ATOMS_LIMIT", 5)
    fresh = Engine()
    fresh._tags = fresh._tag_kinds()
    seen: list[tuple[engine_module._Rebuild, tuple[int, ...], tuple[str, object]]] = []
    rebuilds = [r for r in fresh._tags.values() if isinstance(r, engine_module._Rebuild)]
    assert len(rebuilds) > 50
    assert not any(r.source or r.patterns for r in rebuilds)  # each is read and compiled when first run
    for rebuild in rebuilds:
        compiled = rebuild.compile()

        def spy(values, rebuild=rebuild, run=compiled):  # type: ignore[no-untyped-def]
            built = run(values)
            seen.append((rebuild, values, built))
            return built

        rebuild.run = spy
    encounters = list(generate(40, seed=11))
    batch = list(fresh.evaluate_many(encounters, trace=True, batch_size=20))
    assert len(seen) > 1000 and {len(r.derivations) > 0 for r in batch} == {True}
    for rebuild, values, built in list(seen):
        binding = dict(zip(rebuild.slots, values))
        full = derivation(tuple(messages._build(p, binding) for p in rebuild.patterns))
        assert built == full and built._key == full._key  # the sort key is not compared: asked apart
        again = rebuild.run(values)  # again: its atoms kept (or made again once forgotten)
        assert again == full and again._key == full._key
    kept = fresh._kept_atoms  # the engine's rebuilds keep at most the limit between them
    assert 0 < kept.count <= 5 and sum(len(t) for t in kept.tables.values()) == kept.count and len(kept.tables) > 50
    for encounter, result in zip(encounters, batch):
        assert result.derivations == fresh.evaluate(encounter, trace=True).derivations, encounter["id"]


def test_the_rules_that_read_a_new_date_make_its_atoms_once_between_them(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """engine._KeptAtoms keeps one table per shape of atom, shared by every rule whose record has an
    atom of that shape: a traced batch of encounters on new dates makes each date's enc_date atom
    once, though several rules (the codes in force, the coverage lists in force, the NCCI tables'
    dates) read the date, each date's comparison with a code's first date once per value pair, and a
    tuple of comparisons once for the derivations with the same values in them."""
    from cptkb.reasoner import engine as engine_module

    made: list[tuple[object, object]] = []
    shared: list[tuple[object, ...]] = []
    keep = engine_module._KeptAtoms.keep

    def spy(self, table, key, atom):  # type: ignore[no-untyped-def]
        if isinstance(atom[1], str):  # an atom and its text (not a tuple of comparisons)
            made.append((key, atom[1]))
        else:
            shared.append(atom)
        return keep(self, table, key, atom)

    monkeypatch.setattr(engine_module._KeptAtoms, "keep", spy)
    fresh = Engine()
    dates = ["2019-03-04", "2019-03-05", "2019-03-06"]
    encounters = [dict(RNS, id=f"date-{n}", date_of_service=d) for n, d in enumerate(dates)]
    for result in fresh.evaluate_many(encounters, trace=True):
        dated = [d for d in result.derivations if any(f.name == "enc_date" for f in d.facts)]
        assert {"catalog.in_force", "necessity.list", "ncci.no_data"} <= {d.rule for d in dated}  # rules that read the date
        # the codes in force with the same dates share one tuple of comparisons
        in_force = [d for d in dated if d.rule == "catalog.in_force"]
        assert len(in_force) > 20 and len({id(d.comparisons) for d in in_force}) == len(set(d.comparisons for d in in_force)) < 8
    texts = [text for _, text in made]
    assert sorted(t for t in texts if t.startswith("enc_date(")) == [
        "enc_date(20190304)",
        "enc_date(20190305)",
        "enc_date(20190306)",
    ]
    dated = [t for t in texts if "201903" in t]  # the atoms of the dates (an atom of other shapes,
    # other_unit("95937",K) and other_unit(C,K), may be made once for each)
    assert len(dated) == len(set(dated)) and len(dated) > len(dates) * 2  # comparisons too, none twice
    assert shared and all(isinstance(c, tuple) and len(c) == 3 for t in shared for c in t)  # tuples of comparisons
    tables = fresh._kept_atoms.tables
    assert sum(1 for shape in tables if shape[1][:2] == ("f", "enc_date")) == 1


def test_a_derivation_compares_and_hashes_by_its_fields_not_by_the_order_it_keeps() -> None:
    from cptkb.reasoner.result import Derivation, new_derivation

    head, fact = terms.of(clingo.Function("in_force", [clingo.String("95860")])), terms.of(clingo.Function("enc_date", [clingo.Number(20240501)]))
    made = new_derivation("catalog.in_force", head, (fact,), (), ())
    built = Derivation("catalog.in_force", head, (fact,), (), ())
    assert made.order() == ("catalog.in_force", ("enc_date(20240501)",))  # worked out and kept on made only
    assert made == built and hash(made) == hash(built)
    assert type(made) is Derivation and not hasattr(made, "__dict__")  # slots: no attribute dictionary
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rule = "other"  # type: ignore[misc]  # made as fast as a plain object, frozen all the same
    assert repr(made) == repr(built) and "_order" not in repr(made) and "_key" not in repr(made)
    keyed = new_derivation("catalog.in_force", head, (fact,), (), (), (), 'prov("catalog.in_force",...)')
    assert keyed == made and hash(keyed) == hash(made)  # the sort key kept, not compared
    assert new_derivation("r", head, (), (), (), (fact,)).members == (fact,)
    for copied in (pickle.loads(pickle.dumps(made)), copy.deepcopy(made), copy.copy(made)):
        assert copied == made and copied._order is None  # pickled and copied without what it keeps


def test_rebuilt_derivations_are_kept_in_two_generations(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Engine._batch_atoms keeps each rebuilt derivation by its record's values: a derivation met
    again in the older generation is not rebuilt (it moves to the newer one); when the newer
    generation holds _BOUND_LIMIT, the older is dropped and the newer takes its place, so that what
    the last batches met stays and what they did not is forgotten."""
    from cptkb.reasoner import engine as engine_module

    limit = 200
    monkeypatch.setattr(engine_module, "_BOUND_LIMIT", limit)
    fresh = Engine()
    fresh._tags = fresh._tag_kinds()
    runs: list[tuple[int, ...]] = []
    for rebuild in fresh._tags.values():
        if isinstance(rebuild, engine_module._Rebuild):
            compiled = rebuild.compile()

            def spy(values, run=compiled):  # type: ignore[no-untyped-def]
                runs.append(values)
                return run(values)

            rebuild.run = spy

    def evaluate(encounters: list[dict]) -> list[object]:
        runs.clear()
        return [r.derivations for r in fresh.evaluate_many(encounters, trace=True, batch_size=10)]

    first, others = list(generate(10, seed=21)), list(generate(200, seed=22))
    traced = evaluate(first)
    assert len(runs) >= limit  # all new: the newer generation is full after this batch
    newer = fresh._bound
    assert evaluate(first) == traced and runs == []  # all kept (the full generation is now the older)
    assert fresh._bound_older is newer and len(fresh._bound) > 0
    older = fresh._bound_older
    derivations = evaluate(others)  # many batches: each generation fills and is dropped in turn
    assert fresh._bound_older is not older and fresh._bound_older is not newer
    # a generation is full from the batch that takes it past the limit: at most a batch's records more
    most = max(sum(len(d) for d in derivations[i : i + 10]) for i in range(0, len(derivations), 10))
    assert len(fresh._bound) < limit + most and len(fresh._bound_older) < limit + most
    assert evaluate(first) == traced and runs != []  # forgotten: rebuilt, the same
