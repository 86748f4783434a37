"""The aggregate members of a traced batch that the reasoner works out instead of grounding their
member twins (loader.CountedMember, LoadedProgram.select and counting; engine._count_members).

Source: docs/knowledge-base.md, "The rule marker and provenance": a count's derivation lists what
it counted (its members), for a batch the same as for the encounter evaluated alone. The rules read
are kb/rules/emg_limb.lp (the limb counts), kb/rules/emg_nonlimb.lp (cranial sides),
kb/rules/ncs.lp (the study count) and kb/rules/necessity.lp (the amounts per study kind).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from cptkb.reasoner.engine import Engine
from cptkb.reasoner.loader import CountedMember

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402

SWITCHED = {"branches_as_one_study": True, "paraspinals_count_toward_five": True}


def _rule(engine: Engine, start: str):  # type: ignore[no-untyped-def]
    (rule,) = [r for r in engine.program.rules if r.single.startswith(start)]
    return rule


def _grounding_members(engine: Engine) -> Engine:
    """A copy of ``engine`` whose traced batches ground every member twin (none worked out)."""
    other = Engine(engine.kb_dir)
    assert other.program is not engine.program
    other.program._reasoner_gives = lambda *args: False  # type: ignore[method-assign]
    return other


def _batch_inputs(engine: Engine, encounters: list[dict]) -> frozenset:
    facts = []
    for encounter in encounters:
        enc = engine.validate(encounter)
        facts += enc.facts + engine._ncci_facts(enc)
    return frozenset((name, len(args)) for name, args in facts)


def test_the_members_a_batch_can_work_out(engine: Engine) -> None:
    """loader._counted_member: an aggregate element whose condition is one atom, with variables of its
    own (each once) or arguments of the rule's head, read with constants and functions as written."""
    assert _rule(engine, "limb_muscle_count(L,K) :- ").counted == (
        CountedMember("emg.limb.muscle_count", ("limb_muscle_count", 2), ("limb_muscle", 2), (("h", 0), None)),
    )
    assert _rule(engine, "cranial_sides(K) :- ").counted == (
        CountedMember("emg.site.cranial", ("cranial_sides", 1), ("site_examined", 1), (("f", "cranial", (None,)),)),
    )
    assert _rule(engine, "study_amount(motor,N) :- ").counted == (
        CountedMember("necessity.max_studies", ("study_amount", 2), ("ncs_study", 4), (None, None, ("c", "motor"), None)),
    )
    assert _rule(engine, "ncs_study_count(K) :- ").counted[0].pattern == (None, None, None, None)
    # an element with two conditions (a study and its kind) is grounded as before
    assert _rule(engine, "study_amount(sensory,N) :- ").counted == ()
    assert _rule(engine, "study_amount(sensory,N) :- ").lean_twins == ""
    # one whose member is an input fact can be read, but the selection never leaves it out (below)
    assert _rule(engine, "claim_units(C,T) :- ").counted[0].member == ("enc_claim", 3)


def test_a_traced_batch_leaves_out_the_member_twins_it_works_out(engine: Engine) -> None:
    """LoadedProgram.select: the limb counts' member twins are not grounded (every rule defining
    limb_muscle is marked); claim_units' are (enc_claim is an input fact), and so are the sensory
    amount's (two conditions). Alone, and without the trace, nothing changes."""
    program = engine.program
    inputs = _batch_inputs(engine, list(generate(60, seed=3)))
    text = program.select(inputs, True, text=True)
    assert '"emg.limb.muscle_count",limb_muscle_count(' not in text
    assert 'prov_member(K__enc,"claim.input",claim_units(C,T),' in text
    assert 'prov_member(K__enc,"necessity.max_studies",study_amount(sensory,N),ncs_study(' in text
    assert "#show prov_member/5." in text
    counted = {program.rules[i].single.split(" :- ")[0] for i, _ in program.counting(inputs, True).rules}
    assert {"limb_muscle_count(L,K)", "limb_nerve_count(L,K)", "limb_root_count(L,K)", "ncs_study_count(K)"} <= counted
    assert "claim_units(C,T)" not in counted and "study_amount(sensory,N)" not in counted
    producers = {program.rules[i].single.split(" :- ")[0] for i in program.counting(inputs, True).producers}
    assert "limb_muscle(L,M)" in producers and "ncs_study(N,S,T,B)" in producers
    assert program.counting(inputs, False).rules == ()
    assert program.counting(inputs, True, single=True).rules == ()
    assert '"emg.limb.muscle_count",limb_muscle_count(' in program.select(inputs, True, text=True, single=True)


@pytest.mark.parametrize("switches", [None, SWITCHED], ids=["default", "switched"])
def test_worked_out_members_equal_grounded_ones(engine: Engine, switches: dict | None) -> None:
    """Over 300 generated encounters (with the default switches, and with paraspinal muscles counting
    toward a limb and nerve branches merged, where limb_muscle has a rule outside the entry group), a
    batch that works the members out gives the derivations, members included, of one that grounds
    every member twin, and of each encounter evaluated alone."""
    encounters = list(generate(300, seed=41))
    worked = list(engine.evaluate_many(encounters, switches, trace=True, batch_size=100))
    grounded = list(_grounding_members(engine).evaluate_many(encounters, switches, trace=True, batch_size=100))
    counted = 0
    for encounter, a, b in zip(encounters, worked, grounded):
        assert a.derivations == b.derivations, encounter["id"]
        assert a.to_dict() == b.to_dict(), encounter["id"]
        counted += sum(len(d.members) for d in a.derivations)
    assert counted > 300 * 20
    for encounter, together in list(zip(encounters, worked))[:60]:
        assert engine.evaluate(encounter, switches, trace=True).derivations == together.derivations, encounter["id"]


def test_members_of_a_predicate_an_unmarked_rule_defines_are_grounded(tmp_path: Path) -> None:
    """A count over a predicate that a rule without a rule(...) marker defines (its atoms have no
    derivation to read them off) keeps its member twins; its members are the same as alone. A member
    that holds a head argument inside a function is read; one that holds a variable twice is not."""
    from cptkb.kb import KB_DIR

    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with (kb / "rules" / "common.lp").open("a") as f:
        f.write(
            "plain_limb(L) :- limb_entry(_, L).\n"
            'plain_limbs(K) :- rule("emg.limb.complete_count"), limb_examined(_), K = #count{ L : plain_limb(L) }.\n'
            'marked_limbs(K) :- rule("emg.limb.complete_count"), limb_examined(_), K = #count{ L : limb_examined(L) }.\n'
            'cranial_twice(X, K) :- rule("emg.limb.complete_count"), site_examined(cranial(X)),'
            " K = #count{ 1 : site_examined(cranial(X)) }.\n"
            'same_limb(L, K) :- rule("emg.limb.complete_count"), limb_examined(L), K = #count{ 1 : limb_muscle(L, L) }.\n'
            'same_muscle(K) :- rule("emg.limb.complete_count"), limb_examined(_), K = #count{ M : limb_muscle(M, M) }.\n'
            'mixed(L, K, J) :- rule("emg.limb.complete_count"), limb_examined(L), K = #count{ M : limb_muscle(L, M) },'
            " J = #count{ N : limb_nerve(L, N), limb_muscle(L, N) }.\n"
        )
    other = Engine(kb)
    mixed = _rule(other, "mixed(L,K,J) :- ")
    assert len(mixed.counted) == 1 and mixed.lean_members  # the second count keeps its two member twins
    assert _rule(other, "cranial_twice(X,K) :- ").counted[0].pattern == (("f", "cranial", (("h", 0),)),)
    assert _rule(other, "same_limb(L,K) :- ").counted == () and _rule(other, "same_muscle(K) :- ").counted == ()
    encounters = list(generate(40, seed=8))
    inputs = _batch_inputs(other, encounters)
    counted = {other.program.rules[i].single.split(" :- ")[0] for i, _ in other.program.counting(inputs, True).rules}
    assert {"marked_limbs(K)", "cranial_twice(X,K)", "mixed(L,K,J)"} <= counted and "plain_limbs(K)" not in counted
    assert "#show prov_member/5." in other.program.select(inputs, True, text=True)
    together = list(other.evaluate_many(encounters, trace=True, batch_size=40))
    seen = 0
    cranial = [d for r in together for d in r.derivations if str(d.head).startswith("cranial_twice(")]
    assert cranial and all(len(d.members) == 1 and str(d.members[0]).endswith(f"({d.head.arguments[0]}))") for d in cranial)
    for encounter, result in zip(encounters, together):
        assert other.evaluate(encounter, trace=True).derivations == result.derivations, encounter["id"]
        by_head = {str(d.head).split("(")[0]: d for d in result.derivations if d.rule == "emg.limb.complete_count"}
        if "plain_limbs" in by_head:
            plain, marked = by_head["plain_limbs"], by_head["marked_limbs"]
            assert [str(m).replace("plain_limb", "") for m in plain.members] == [
                str(m).replace("limb_examined", "") for m in marked.members
            ]
            seen += 1
    assert seen > 20
