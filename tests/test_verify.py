"""cptkb verify: invariants by search with counterexamples, and structural checks.

Source: the invariants of kb/verify/invariants.lp (research note C-1 to C-5, C-15, C-16; CPT 95907-95913
descriptors); docs/knowledge-base.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cptkb import KnowledgeBaseFault
from cptkb.kb import KB_DIR
from cptkb.reasoner.engine import Engine
from cptkb.reasoner.verify import verify
from test_cli import run


def planted(tmp_path: Path, file: str, text: str) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with (kb / "rules" / file).open("a") as fh:
        fh.write("\n" + text + "\n")
    return kb


def test_shipped_knowledge_base_verifies() -> None:
    """Every invariant holds over the bounded space and the structure is sound; exit 0."""
    code, out, err = run(["verify"])
    assert code == 0, out + err
    assert out.splitlines()[-1] == "verify: all invariants hold"
    for ident in ("emg.families_apart", "emg.limb_addons_at_most_four", "emg.limb_addon_one_per_limb",
                  "addon.with_primary", "ncs.ladder_code", "ncs.ladder_partition", "catalog.in_force",
                  "claim.one_status"):
        assert f"holds  {ident}:" in out
    assert "structure: sound" in out


def test_planted_wrong_rule_gives_a_counterexample(tmp_path: Path) -> None:
    """A rule that bills 95860 on a day with nerve conduction breaks emg.families_apart (CPT parenthetical,
    research note C-3); verify finds an encounter showing it, in contract form, and evaluating that encounter
    with the broken knowledge base stops on the runtime check."""
    kb = planted(
        tmp_path,
        "emg_codes.lp",
        'rule_source("planted.wrong", "a test", "a wrong rule", "0", unconfirmed).\n'
        'emg_unit("95860", session) :- rule("planted.wrong"), same_day_ncs, limb_complete(_).',
    )
    engine = Engine(kb)
    report = verify(engine)
    assert not report.ok
    broken = {r.ident: r for r in report.invariants}["emg.families_apart"]
    assert not broken.holds and broken.counterexample is not None
    enc = broken.counterexample
    assert enc["nerve_conduction"] and enc["needle_emg"]
    engine.validate(enc, broken.switches)  # a valid contract-v1 encounter
    with pytest.raises(KnowledgeBaseFault, match="both needle EMG families"):
        engine.evaluate(enc, broken.switches)
    # The shipped knowledge base codes the same encounter without the fault.
    assert Engine().evaluate(enc, broken.switches).codes

    code, out, _ = run(["verify", "--kb", str(kb)])
    assert code == 1
    assert "VIOLATED  emg.families_apart" in out and "counterexample" in out


def test_author_invariant_from_a_file(tmp_path: Path) -> None:
    """Authors add invariants in a file of their own; a false one comes back with a counterexample."""
    extra = tmp_path / "mine.lp"
    extra.write_text(
        'invariant("mine.never_95864", "no encounter gets 95864").\n'
        'violation("mine.never_95864") :- code("95864", _).\n'
    )
    code, out, _ = run(["verify", "--invariants", str(extra), "--format", "json"])
    assert code == 1
    import json

    report = json.loads(out)
    mine = next(r for r in report["invariants"] if r["invariant"] == "mine.never_95864")
    assert mine["holds"] is False
    result = Engine().evaluate(mine["counterexample"], mine["switches"])
    assert "95864" in [c.code for c in result.codes]


def test_structure_finds_dead_and_cyclic_rules(tmp_path: Path) -> None:
    """Structural checks: rules that can never fire (each needs the other), a cycle through negation."""
    kb = planted(
        tmp_path,
        "emg_codes.lp",
        "planted_p(X) :- planted_q(X), enc_emg(X, _, _).\n"
        "planted_q(X) :- planted_p(X).\n"
        "planted_a(X) :- enc_emg(X, _, _), not planted_b(X).\n"
        "planted_b(X) :- enc_emg(X, _, _), not planted_a(X).",
    )
    report = verify(Engine(kb))
    text = "\n".join(report.structure)
    assert "rule can never fire" in text and "planted_p(" in text and "planted_q(" in text
    assert "planted_a/2" in text and "through negation" in text
    assert not report.ok


def test_load_refuses_a_predicate_nothing_defines(tmp_path: Path) -> None:
    """A rule reading an atom that no rule, fact or schema entry defines fails when the knowledge base loads."""
    from cptkb import KnowledgeBaseError

    kb = planted(
        tmp_path,
        "emg_codes.lp",
        'rule_source("planted.undefined", "a test", "undefined", "0", unconfirmed).\n'
        'emg_unit("95860", session) :- rule("planted.undefined"), never_derived_anywhere(_), enc_date(_).',
    )
    with pytest.raises(KnowledgeBaseError, match="never_derived_anywhere"):
        Engine(kb)
