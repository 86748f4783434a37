"""Renderers of the trace: the plain-text justification and Graphviz DOT.

Source: the rules and sources of the knowledge base (their rule_source facts); docs/contract.md.
"""

from __future__ import annotations

import re

from cptkb.explain.graph import build_graph, render_dot
from cptkb.explain.text import render_text
from cptkb.reasoner.engine import Engine

ENC = {
    "id": "explain-1",
    "date_of_service": "2024-05-01",
    "needle_emg": [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps", "deltoid")],
}


def test_dot_declares_every_node_and_marks_absence(engine: Engine) -> None:
    """DOT output: one node statement per graph node, edges between declared nodes only, the code as a
    double octagon, the absence of same-day nerve conduction as a dashed box feeding emg.code.limbs."""
    result = engine.evaluate(ENC, trace=True)
    graph = build_graph(result, engine.vocab)
    dot = render_dot(graph)
    assert dot.startswith("digraph trace {\n") and dot.endswith("}\n")
    declared = set(re.findall(r"^  (n\d+) \[", dot, flags=re.M))
    assert len(declared) == graph.number_of_nodes()
    edges = re.findall(r"^  (n\d+) -> (n\d+)", dot, flags=re.M)
    assert len(edges) == graph.number_of_edges()
    assert all(u in declared and v in declared for u, v in edges)
    assert '[shape=doubleoctagon, label="95860 x1"]' in dot
    assert 'label="no same_day_ncs", style="dashed"' in dot
    assert 'label="emg.code.limbs\\nverified"' in dot
    assert dot == render_dot(build_graph(engine.evaluate(ENC, trace=True), engine.vocab))  # deterministic


def test_text_names_values_sources_and_evidence(engine: Engine) -> None:
    """The text justification of 95860 goes down to the encounter facts, with each rule's source, the
    counts compared and the atoms whose absence it relied on (CMS CY1998 MPFS final rule, research note C-6)."""
    text = render_text(engine.evaluate(ENC, trace=True), engine.vocab)
    assert "Why 95860 x1" in text
    assert "- emg.code.limbs: one code by the number of complete limbs, without same-day NCS" in text
    assert "because there is no: same_day_ncs" in text
    assert "limb_muscle_count(right_upper,5)" in text and "checked: 5 >= 5" in text
    assert "source: CMS CY1998 MPFS final rule, 62 FR 59048 at 59090" in text
    assert "enc_emg(0,abductor_pollicis_brevis,right)" in text
    assert "unconfirmed: not checked against a public source" in text  # the anatomy rules say so


def test_markdown_tables_and_nested_reasons(engine: Engine) -> None:
    """Markdown: a code table, the reasons of each code as nested lists with rule ids in bold, findings as a table."""
    from cptkb.explain.text import render_markdown

    md = render_markdown(engine.evaluate(ENC, trace=True), engine.vocab)
    assert md.startswith("# Encounter explain-1\n")
    assert "| 95860 | 1 |  | needle EMG, one limb |" in md
    assert "## Why 95860 x1" in md
    assert "- **emg.code.limbs**: one code by the number of complete limbs, without same-day NCS" in md
    assert "because there is no: `same_day_ncs`" in md
    assert "| info | `kb.unconfirmed.anatomy` |" in md


def test_depth_prunes_the_chain(engine: Engine) -> None:
    """--depth bounds how far below each code the justification goes: at depth 1 only the rule that
    outputs the code is shown, not the encounter facts."""
    result = engine.evaluate(ENC, trace=True)
    short = render_text(result, engine.vocab, depth=1)
    full = render_text(result, engine.vocab)
    assert "- output.code:" in short and "emg.code.limbs" not in short
    assert "enc_emg(0,abductor_pollicis_brevis,right)" not in short
    assert "enc_emg(0,abductor_pollicis_brevis,right)" in full
    assert len(short) < len(full)


def test_one_derivation_per_conclusion_by_default(engine: Engine) -> None:
    """Each conclusion keeps one derivation unless all are asked for: ncs_study_count(2) is derived once per
    study it counts (its positive premise), so all derivations give more rule nodes for it."""
    enc = {
        "id": "deriv",
        "date_of_service": "2024-05-01",
        "nerve_conduction": [
            {"nerve": "median", "side": "left", "study": "motor"},
            {"nerve": "ulnar", "side": "left", "study": "motor"},
        ],
    }
    result = engine.evaluate(enc, trace=True)
    one = build_graph(result, engine.vocab)
    every = build_graph(result, engine.vocab, all_derivations=True)

    def rule_nodes(g, rule):
        return [n for n, d in g.nodes(data=True) if d["kind"] == "rule" and d["rule"] == rule]

    assert len(rule_nodes(one, "ncs.count")) == 1
    assert len(rule_nodes(every, "ncs.count")) == 2
    for head, count in ((n, len(list(one.predecessors(n)))) for n, d in one.nodes(data=True) if d["kind"] == "conclusion"):
        assert count == 1, head


def test_short_level_one_sentence_per_code(engine: Engine) -> None:
    """The short level names limbs with their counts, the date, the rule, the citation and the evidence
    (research note C-1, C-6; CPT Assistant April 2002 for 95870 per limb)."""
    from cptkb.explain.summary import render_summary

    enc = {"id": "s1", "date_of_service": "2024-05-01", "needle_emg": [
        *({"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps brachii", "deltoid")),
        *({"muscle": m, "side": "left"} for m in ("APB", "FDI", "EDC")),
    ]}
    text = render_summary(engine.evaluate(enc, trace=True), engine.vocab)
    lines = text.splitlines()
    assert lines[0] == "Encounter s1, date of service 2024-05-01, knowledge base 2026.1"
    assert lines[1].startswith(
        "95860 x1: needle EMG of 1 complete limb: right upper limb (5 muscles, 5 nerves, 5 root levels),"
        " with no nerve conduction study on 2024-05-01 (emg.code.limbs: CPT 95860-95864 descriptors"
    )
    assert lines[1].endswith("; verified against the cited primary text).")
    assert lines[2].startswith(
        "95870 x1: needle EMG of 1 limited limb, one unit each: left upper limb (3 muscles, 3 nerves, 3 root levels);"
        " a complete limb needs 5 muscles and 3 nerves or 4 root levels (emg.code.limited_limb:"
    )


def test_every_unit_rule_has_its_own_sentence(engine: Engine) -> None:
    """Each rule that gives a code's unit is phrased by its family's short template (no generic fallback)."""
    from pathlib import Path

    import cptkb.explain as explain_package

    templates = Path(explain_package.__file__).parent / "templates" / "short"
    families = {"emg_unit": "emg", "ncs_unit": "ncs", "other_unit": "other"}
    checked = 0
    for m in engine.program.marked:
        family = families.get(m.signature[0])
        if family is None:
            continue
        assert f'"{m.rule_id}"' in (templates / f"{family}.txt.j2").read_text(), m.rule_id
        checked += 1
    assert checked >= 21


def test_code_reached_from_the_right_facts_through_the_right_rules(engine: Engine) -> None:
    """95860 for a complete right arm (research note C-1, C-6): every muscle entry of the arm reaches the code
    node, and the rules on those paths are the limb chain, the limb-code rule and the output rules."""
    import networkx as nx

    from cptkb.explain.graph import build_graph

    arm = ["APB", "FDI", "EDC", "biceps brachii", "deltoid"]
    enc = {"id": "g1", "date_of_service": "2024-05-01", "needle_emg": [{"muscle": m, "side": "right"} for m in arm]}
    result = engine.evaluate(enc, trace=True)
    graph = build_graph(result, engine.vocab)
    facts = sorted(n for n in graph if n.startswith("fact:enc_emg("))
    assert len(facts) == 5
    rules_between: set[str] = set()
    for fact in facts:
        assert nx.has_path(graph, fact, "code:95860"), fact
        between = nx.descendants(graph, fact) & nx.ancestors(graph, "code:95860")
        rules_between |= {graph.nodes[n]["rule"] for n in between if graph.nodes[n]["kind"] == "rule"}
    assert {"emg.limb.entry", "emg.limb.muscle", "emg.limb.muscle_count", "emg.limb.complete_count",
            "emg.code.limbs", "output.unit", "output.code"} <= rules_between
    assert rules_between & {"emg.limb.complete_nerves", "emg.limb.complete_roots"}
    assert not rules_between & {"emg.code.limited_limb", "emg.limb.limited", "ncs.code.ladder"}


def test_every_negated_condition_is_an_absence_node(engine: Engine, valid_cases: list) -> None:
    """Property over the corpus: each rule application that relied on an absent atom has an absence node
    for it, linked to that application, and no other rule node has one."""
    from cptkb.explain.graph import build_graph

    checked = 0
    for case in valid_cases:
        result = engine.evaluate(case.encounter, case.switches, trace=True)
        graph = build_graph(result, engine.vocab, all_derivations=True)
        for d in result.derivations:
            app = f"rule:{d.rule}|{d.head}|{';'.join(map(str, d.facts))}|{';'.join(map(str, d.absent))}"
            absent_in = sorted(u for u, _, r in graph.in_edges(app, data="role") if r == "absent")
            assert absent_in == sorted(f"absent:{a}" for a in d.absent), (case.name, app)
            checked += bool(d.absent)
    assert checked > 500


def test_node_link_text_is_the_graph_s_node_link_json(engine: Engine, valid_cases: list) -> None:
    """explain.graph.node_link_text (what cptkb batch --explain writes, built without a networkx
    graph) is json.dumps of node_link(build_graph(...)) byte for byte, for every valid case of the
    corpus, with one derivation per conclusion and with all of them (docs/contract.md, explanation)."""
    import json

    from cptkb.explain.graph import node_link, node_link_text

    for case in valid_cases:
        result = engine.evaluate(case.encounter, case.switches, trace=True)
        for every in (False, True):
            expected = json.dumps(node_link(build_graph(result, engine.vocab, every)), ensure_ascii=False)
            assert node_link_text(result, engine.vocab, every) == expected, (case.name, every)


def test_a_rule_node_is_made_once_per_derivation_and_vocabulary(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """node_link_text keeps each derivation's rule node on the derivation (explain.graph._application):
    written again for the same derivations it makes none; for another vocabulary (another knowledge
    base's sources) it makes them again, and the text follows that vocabulary (a derivation keeps
    the node of the vocabulary it was last written with)."""
    import copy
    import dataclasses

    from cptkb.explain import graph
    from cptkb.explain.graph import node_link_text

    made: list[str] = []
    rule_node = graph._rule_node
    monkeypatch.setattr(graph, "_rule_node", lambda d, vocab: made.append(d.rule) or rule_node(d, vocab))
    muscles = ("deltoid", "biceps_brachii", "triceps", "first_dorsal_interosseous", "abductor_pollicis_brevis")
    encounter = {"id": "kept", "date_of_service": "2026-11-02", "needle_emg": [{"muscle": m, "side": "left"} for m in muscles]}
    result = engine.evaluate(encounter, trace=True)
    vocab = copy.deepcopy(engine.vocab)  # its own: no derivation holds a rule node made for it
    first = node_link_text(result, vocab)
    count = len(made)
    assert 0 < count <= len(result.derivations)
    rule = made[0]
    made.clear()
    assert node_link_text(result, vocab) == first and made == []  # kept: none made again
    other = copy.deepcopy(engine.vocab)
    other.rules[rule] = dataclasses.replace(other.rules[rule], document="another source")
    again = node_link_text(result, other)
    assert len(made) == count
    assert '"document": "another source"' in again and '"document": "another source"' not in first
