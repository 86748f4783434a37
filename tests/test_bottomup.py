"""An encounter evaluated alone by the reasoner, bottom-up in the order of the strata (reasoner/bottomup.py).

Source: docs/knowledge-base.md, "How an encounter is evaluated": a stratified program has one answer
set, the one clingo's grounder derives; the reasoner's bottom-up evaluation must derive exactly it.
Here small knowledge bases exercise each construct against clingo, and the knowledge base's own
rules are compared with clingo over the corpus and generated encounters (tests/test_api.py compares
them with batches and with the whole knowledge base as well).
"""

from __future__ import annotations

import sys
from pathlib import Path

import clingo
import pytest

from cptkb.reasoner import bottomup, derive
from cptkb.reasoner.engine import Engine
from cptkb.reasoner.loader import load_program
from cptkb.reasoner.result import build_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402


def _kb(tmp_path: Path, program: str) -> Path:
    (tmp_path / "rules.lp").write_text(program)
    main = tmp_path / "main.lp"
    main.write_text('#include "rules.lp".\n')
    return main


def _parse_facts(text: str) -> list[tuple[str, tuple[clingo.Symbol, ...]]]:
    facts = []
    for part in filter(None, (p.strip() for p in text.split("."))):
        sym = clingo.parse_term(part)
        facts.append((sym.name, tuple(sym.arguments)))
    return facts


def _bottom_up(main: Path, facts: str) -> tuple[set[str], bottomup.Stratified]:
    program = load_program(main)
    static, keyed = program.reference_atoms()
    stratified = bottomup.Stratified(program, {(a.name, len(a.arguments)) for a in static})
    assert stratified.available, stratified.unavailable
    store = bottomup.Store(derive.Reference(static, keyed, program.keyed_tables), sorted(keyed))
    stratified.run(store, _parse_facts(facts))
    found = {str(clingo.Symbol(rep)) for sig in store.nonempty for rep in store.values(sig)}  # type: ignore[call-arg]
    return found, stratified


def _clingo(main: Path, facts: str, dynamic: set[tuple[str, int]]) -> set[str]:
    ctl = clingo.Control(["--warn=none"])
    ctl.load(str(main))
    ctl.add("base", [], facts)
    ctl.ground([("base", [])])
    with ctl.solve(yield_=True) as handle:
        (model,) = list(handle)
        return {str(s) for s in model.symbols(atoms=True) if (s.name, len(s.arguments)) in dynamic}


CASES = {
    "positive recursion (transitive closure over an input relation)": (
        "reach(X, Y) :- enc_edge(X, Y). reach(X, Z) :- reach(X, Y), enc_edge(Y, Z).",
        "enc_edge(a, b). enc_edge(b, c). enc_edge(c, d). enc_edge(d, b).",
    ),
    "mutual recursion through two predicates": (
        "even(0) :- enc_start. odd(N) :- even(M), enc_succ(M, N). even(N) :- odd(M), enc_succ(M, N).",
        "enc_start. enc_succ(0, 1). enc_succ(1, 2). enc_succ(2, 3). enc_succ(3, 4).",
    ),
    "negation over a lower stratum, with an anonymous variable": (
        "tested(X) :- enc_test(X, _). untested(X) :- enc_item(X), not tested(X). "
        "none_for(X) :- enc_item(X), not enc_test(X, _).",
        'enc_item(a). enc_item(b). enc_item("c"). enc_test(a, 1). enc_test(a, 2).',
    ),
    "aggregates: counts (none counted is 0), sums, #sum+, least and greatest": (
        "n(X, N) :- enc_item(X), N = #count { Y : enc_test(X, Y) }. "
        "s(X, S) :- enc_item(X), S = #sum { W, Y : enc_weight(X, Y, W) }. "
        "p(X, S) :- enc_item(X), S = #sum+ { W, Y : enc_weight(X, Y, W) }. "
        "lo(X, M) :- enc_item(X), M = #min { Y : enc_test(X, Y) }. "
        "hi(X, M) :- enc_item(X), M = #max { Y : enc_test(X, Y) }. "
        "big(X) :- enc_item(X), 2 <= #count { Y : enc_test(X, Y) }.",
        "enc_item(a). enc_item(b). enc_test(a, 1). enc_test(a, z). enc_test(a, f(1)). "
        "enc_weight(a, 1, 5). enc_weight(a, 2, -7). enc_weight(a, 3, 5). enc_weight(b, 1, x).",
    ),
    "comparisons in clingo's order of symbols (numbers, constants, strings, functions)": (
        "lt(X, Y) :- enc_v(X), enc_v(Y), X < Y. ne(X, Y) :- enc_v(X), enc_v(Y), X != Y, X >= Y.",
        'enc_v(2). enc_v(-1). enc_v(b). enc_v(a). enc_v("s"). enc_v(f(a)). enc_v((1, 2)).',
    ),
    "function and tuple terms in heads and bodies, repeated input facts, a fact among the rules": (
        "pair(p(X, Y)) :- enc_a(X), enc_b(Y). first(X) :- pair(p(X, _)). t((X, Y)) :- enc_a(X), enc_b(Y), X != Y. "
        "seen(f(1)) :- enc_a(1). always.",
        "enc_a(1). enc_a(1). enc_a(2). enc_b(2). enc_b(3).",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_construct_derives_what_clingo_derives(tmp_path: Path, name: str) -> None:
    program, facts = CASES[name]
    main = _kb(tmp_path, program + "\n")
    found, stratified = _bottom_up(main, facts)
    expected = _clingo(main, facts, load_program(main).dynamic)
    assert found == expected
    assert found  # every case derives something


def test_recursion_is_run_to_its_fixpoint(tmp_path: Path) -> None:
    """The closure of a cycle: every node reaches every node of the cycle, found by running the
    recursive group until nothing new is derived."""
    program, facts = CASES["positive recursion (transitive closure over an input relation)"]
    found, stratified = _bottom_up(_kb(tmp_path, program + "\n"), facts)
    assert {f for f in found if f.startswith("reach(b,")} == {"reach(b,b)", "reach(b,c)", "reach(b,d)"}
    assert [step.recursive for step in stratified.steps] == [True]


def test_strata_run_in_order(tmp_path: Path) -> None:
    """A predicate read by a negative literal or an aggregate is complete before the rule that reads it runs."""
    main = _kb(tmp_path, "c(N) :- N = #count { X : b(X) }, enc_go. b(X) :- a(X). a(X) :- enc_x(X). d :- enc_go, not b(1).\n")
    found, stratified = _bottom_up(main, "enc_go. enc_x(1). enc_x(2).")
    assert found >= {"c(2)", "b(1)", "b(2)"} and "d" not in found
    order = [next(iter(step.heads))[0] for step in stratified.steps]
    assert order.index("a") < order.index("b") < order.index("c") and order.index("b") < order.index("d")


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("a(N) :- enc_x(X), N = X + 1.", "outside the fragment the reasoner evaluates: a(N) :- enc_x(X); N = (X+1)."),
        ("a(X) :- enc_x(X), not b(X). b(X) :- enc_x(X), not a(X).", "the rules are not stratified"),
        ("a(X;Y) :- enc_x(X), enc_y(Y).", "outside the fragment"),
        ("a(X) :- b(X) : enc_y(X); enc_x(X).", "outside the fragment"),
    ],
)
def test_a_knowledge_base_outside_the_fragment_is_left_to_clingo(tmp_path: Path, program: str, reason: str) -> None:
    """Arithmetic, pools, conditional literals, or rules that are not stratified: the reasoner does not
    evaluate the knowledge base bottom-up, and says why."""
    stratified = bottomup.Stratified(load_program(_kb(tmp_path, program + "\n")), ())
    assert not stratified.available
    assert reason in stratified.unavailable


def test_the_reasons_name_a_few_rules(tmp_path: Path) -> None:
    """A constant definition changes what the rules mean, so none is kept for the reasoner (as for the
    message rules, reasoner/loader.py): the reason names three rules and counts the others."""
    program = "#const n = 2.\n" + "".join(f"a{i}(X) :- enc_x(X).\n" for i in range(6))
    stratified = bottomup.Stratified(load_program(_kb(tmp_path, program)), ())
    assert not stratified.available
    assert stratified.unavailable.count("outside the fragment") == 3
    assert stratified.unavailable.endswith("; and 3 more rules")


def test_the_knowledge_base_is_evaluated_bottom_up(engine: Engine) -> None:
    """Every rule of the knowledge base an encounter alone runs (all but the message and check rules,
    reasoner/messages.py) is in the fragment, the rules are stratified, and each is in one step."""
    stratified = bottomup.Stratified(engine.program, {(a.name, len(a.arguments)) for a in engine._static_atoms})
    assert stratified.available, stratified.unavailable
    stepped = sorted(i for step in stratified.steps for i in step.rules)
    expected = [i for i, r in enumerate(engine.program.rules) if not (r.message or r.check)]
    assert stepped == expected and len(expected) > 200


def test_only_rules_that_can_fire_are_compiled(engine: Engine) -> None:
    """A rule whose positive body reads an encounter predicate with no atom is neither compiled nor run: a
    needle EMG encounter with no claim compiles no claim review rule."""
    fresh = Engine(bottom_up=True)
    fresh.evaluate({"id": "e", "date_of_service": "2024-05-01", "needle_emg": [{"muscle": "APB", "side": "left"}]})
    compiled = {fresh.program.rules[i].single for i in fresh._stratified._plans}
    assert compiled and not any(text.startswith("claim") or "enc_claim" in text for text in compiled)
    assert len(compiled) < len(fresh._stratified._needs) / 2


def test_bottom_up_equals_grounding_over_the_corpus_and_generated_encounters(
    engine: Engine, grounding_engine: Engine, valid_cases
) -> None:
    """Over every valid case of the corpus and 200 generated encounters, with and without the trace,
    the bottom-up evaluation gives the result and the derivations of clingo grounding the rules and
    their twins (Engine.solve with derived=False)."""
    encounters = [c.encounter for c in valid_cases if not c.switches] + list(generate(200, seed=31))
    derivations = 0
    for encounter in encounters:
        enc = engine.validate(encounter)
        for trace in (False, True):
            ours = engine.evaluate(encounter, trace=trace)
            (atoms,) = grounding_engine.solve([enc], trace=trace, derived=False)
            theirs = build_result(enc, atoms, engine.vocab)
            assert ours.to_dict() == theirs.to_dict(), encounter["id"]
            assert ours.derivations == theirs.derivations, encounter["id"]
            derivations += len(ours.derivations)
    assert derivations > len(encounters) * 20


def test_recursive_marked_rules_give_the_records_of_their_grounded_twins(tmp_path: Path) -> None:
    """With the trace, a marked rule's compiled twins stand in for it, in a recursive step too: the
    records are those clingo's grounder derives from the twins, each once (a step run again finds
    its earlier solutions again)."""
    program = (
        'reach(X, Y) :- rule("t.base"), enc_edge(X, Y).\n'
        'reach(X, Z) :- rule("t.step"), reach(X, Y), enc_edge(Y, Z).\n'
    )
    facts = "enc_edge(a, b). enc_edge(b, c). enc_edge(c, a)."
    loaded = load_program(_kb(tmp_path, program))
    static, keyed = loaded.reference_atoms()
    stratified = bottomup.Stratified(loaded, set())
    assert stratified.available and [step.recursive for step in stratified.steps] == [True]
    store = bottomup.Store(derive.Reference(static, keyed, loaded.keyed_tables), [])
    twins = {i: derive.compile_twins(r.single_twins) for i, r in enumerate(loaded.rules) if r.marked}
    traced = stratified.run(store, _parse_facts(facts), twins.get)
    assert traced is not None
    found, _ = derive.records(traced)
    ours = [d._key for d in found]

    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], "\n".join(r.single + "\n" + r.single_twins for r in loaded.rules) + "\n" + facts)
    ctl.ground([("base", [])])
    theirs = sorted(
        "prov(" + ",".join(str(a) for a in s.symbol.arguments) + ")"
        for s in ctl.symbolic_atoms
        if s.symbol.name.startswith("_prov_")
    )
    assert sorted(ours) == theirs
    assert len(ours) == len(set(ours)) == 3 + 9  # three base records; each of nine reach atoms by one step
    assert sum(len(solutions) for _, solutions in traced) == len(ours)


def test_atoms_added_with_their_values_read_as_atoms_added_by_their_arguments() -> None:
    """Store.add_atoms (the heads of an entry group's rules, whose symbol values the derivations
    hold: reasoner/byfact.py) keeps the atoms as Store.add makes them: each once, in the order
    added, the predicate then non-empty."""
    reference = derive.Reference([], {}, set())
    by_arguments, by_value = bottomup.Store(reference, []), bottomup.Store(reference, [])
    sig = ("limb_entry", 2)
    rows = [(clingo.Number(0)._rep, clingo.Function("left_upper")._rep), (clingo.Number(1)._rep, clingo.Function("left_upper")._rep)]
    assert by_arguments.add(sig, rows + rows[:1])
    by_value.add_atoms(sig, [(clingo.Function("limb_entry", [clingo.Symbol(a) for a in r])._rep, r) for r in rows + rows[:1]])  # type: ignore[call-arg]
    assert by_value.of(*sig) == by_arguments.of(*sig) and len(by_value.of(*sig)) == 2
    assert by_value.nonempty == by_arguments.nonempty == {sig}
    assert by_value.index("limb_entry", 2, (0,)) == by_arguments.index("limb_entry", 2, (0,))
    by_value.add_atoms(("emg_site", 2), [])
    assert ("emg_site", 2) not in by_value.nonempty
