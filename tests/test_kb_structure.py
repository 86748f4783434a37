"""The shape of the knowledge base itself: rule ids, sources, messages, catalog, names, and the
loader's checks of marked rules (kb/, reasoner/loader.py).

Sources: the rule-marker convention of reasoner/loader.py (module docstring), the evidence tags
of docs/rules-emg-ncs.md and kb/data/meta.lp, the headers of kb/data/catalog.lp and
kb/data/anatomy.lp.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import clingo
import pytest
from clingo import ast

from cptkb.reasoner.loader import KnowledgeBaseError, load_program
from cptkb.reasoner.vocab import normalize_name

EVIDENCE = {"verified", "secondary", "inferred", "unconfirmed"}


def ground_facts(path: Path) -> list[clingo.Symbol]:
    """The atoms of one reference data file, grounded on its own."""
    ctl = clingo.Control(["--warn=none"])
    ctl.load(str(path))
    ctl.ground([("base", [])])
    return [a.symbol for a in ctl.symbolic_atoms]


def rule_files(engine) -> list[Path]:
    return sorted((engine.kb_dir / "rules").glob("*.lp"))


def finding_ids_in(path: Path) -> set[str]:
    """Rule ids of every finding/3 head written in a rule file."""
    found: set[str] = set()

    def visit(stm: ast.AST) -> None:
        if stm.ast_type != ast.ASTType.Rule:
            return
        head = stm.head
        if head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
            return
        term = head.atom.symbol
        if term.ast_type == ast.ASTType.Function and term.name == "finding" and len(term.arguments) == 3:
            first = term.arguments[0]
            if first.ast_type == ast.ASTType.SymbolicTerm and first.symbol.type == clingo.SymbolType.String:
                found.add(first.symbol.string)

    ast.parse_files([str(path)], visit)
    return found


# --- rule ids, sources, messages -----------------------------------------------------------------


def test_every_marked_rule_has_a_rule_source(engine) -> None:
    """Source: reasoner/loader.py marker convention (a rule names itself with rule("id")) and the rule_source
    facts of kb/rules/*.lp: every marked rule id has a source."""
    marked = {m.rule_id for m in engine.program.marked}
    assert marked, "no marked rule was loaded"
    assert sorted(marked - set(engine.vocab.rules)) == []


def test_every_rule_source_has_a_known_evidence_tag(engine) -> None:
    """Source: docs/rules-emg-ncs.md evidence table and kb/data/meta.lp evidence/2: verified, secondary,
    inferred, unconfirmed."""
    bad = sorted((rid, src.evidence) for rid, src in engine.vocab.rules.items() if src.evidence not in EVIDENCE)
    assert bad == []
    assert set(engine.vocab.evidence_labels) == EVIDENCE


def test_every_rule_source_is_used_by_a_marked_rule(engine) -> None:
    """Source: reasoner/loader.py marker convention: a rule_source documents a marked rule; none is used only
    by Python."""
    marked = {m.rule_id for m in engine.program.marked}
    assert sorted(set(engine.vocab.rules) - marked) == []


def test_every_rule_source_names_a_document_and_section(engine) -> None:
    """Source: the rule_source/5 contract (id, document, section, edition, evidence) read by reasoner/vocab.py."""
    empty = sorted(rid for rid, src in engine.vocab.rules.items() if not (src.document and src.section and src.edition))
    assert empty == []


def test_every_message_key_is_a_rule_with_a_source(engine) -> None:
    """Source: the message/2 convention of kb/rules/*.lp: a message template belongs to a rule id with a
    rule_source."""
    assert engine.vocab.messages
    assert sorted(set(engine.vocab.messages) - set(engine.vocab.rules)) == []


def test_every_finding_has_a_message(engine) -> None:
    """Source: the finding/3 and message/2 convention of kb/rules/*.lp: every finding a rule file emits has a
    message template."""
    emitted: set[str] = set()
    for path in rule_files(engine):
        emitted |= finding_ids_in(path)
    assert "encounter.nothing_billable" in emitted  # the scan sees the findings
    assert sorted(emitted - set(engine.vocab.messages)) == []


def test_finding_key_declarations_name_emitted_findings_and_their_placeholders(engine) -> None:
    """Source: kb/rules/findings.lp and docs/knowledge-base.md ("Findings and messages"): each
    finding_key_*/finding_edition fact names a finding some rule emits, and each argument name it
    declares is a placeholder of that finding's message."""
    emitted: set[str] = set()
    declared: list[tuple[str, str, list[str]]] = []
    for path in rule_files(engine):
        emitted |= finding_ids_in(path)
        for sym in ground_facts(path):
            args = sym.arguments
            if sym.name == "finding_key_code" and len(args) == 1:
                declared.append((sym.name, args[0].string, []))
            elif sym.name in ("finding_key_arg", "finding_key_units") and len(args) == 2:
                declared.append((sym.name, args[0].string, [str(args[1])]))
            elif sym.name == "finding_key_pair" and len(args) == 3:
                declared.append((sym.name, args[0].string, [str(args[1]), str(args[2])]))
            elif sym.name == "finding_edition" and len(args) == 2:
                declared.append((sym.name, args[0].string, ["edition"]))
    assert len(declared) >= 40  # the scan sees the declarations
    problems = []
    for kind, rule_id, names in declared:
        if rule_id not in emitted:
            problems.append(f"{kind}: no rule emits finding {rule_id!r}")
            continue
        template = engine.vocab.messages.get(rule_id, "")
        problems += [f"{kind}: the message of {rule_id!r} has no {{{n}}}" for n in names if "{" + n + "}" not in template]
    assert problems == []


# --- reference data --------------------------------------------------------------------------------


def test_every_catalog_code_has_a_description(engine) -> None:
    """Source: kb/data/catalog.lp header (descriptions are short descriptions in our own words) and its
    cpt_desc/2 facts: every cpt_code/3 has one."""
    facts = ground_facts(engine.kb_dir / "data" / "catalog.lp")
    codes = {s.arguments[0].string for s in facts if s.name == "cpt_code" and len(s.arguments) == 3}
    described = {s.arguments[0].string for s in facts if s.name == "cpt_desc" and len(s.arguments) == 2 and s.arguments[1].string.strip()}
    assert len(codes) > 30
    assert sorted(codes - described) == []
    assert sorted(c for c, info in engine.vocab.codes.items() if not info.description) == []


def test_no_two_muscles_share_a_name_or_alias(engine) -> None:
    """Source: kb/data/anatomy.lp header: every name and alias is unique (case-insensitively) across the
    file; engine.vocab.muscle_names is built from ids, names and aliases normalized by normalize_name."""
    owners: dict[str, set[str]] = defaultdict(set)
    for s in ground_facts(engine.kb_dir / "data" / "anatomy.lp"):
        if s.name == "muscle" and len(s.arguments) == 3:
            owners[normalize_name(str(s.arguments[0]))].add(str(s.arguments[0]))
        elif s.name in ("muscle_name", "muscle_alias") and len(s.arguments) == 2:
            owners[normalize_name(s.arguments[1].string)].add(str(s.arguments[0]))
    assert len(owners) > 100
    assert sorted((name, sorted(ids)) for name, ids in owners.items() if len(ids) > 1) == []


def test_every_muscle_has_exactly_one_name(engine) -> None:
    """Source: kb/data/anatomy.lp header: muscle_name(Id, Name), exactly one canonical lowercase name per
    muscle."""
    names: dict[str, list[str]] = defaultdict(list)
    ids: set[str] = set()
    for s in ground_facts(engine.kb_dir / "data" / "anatomy.lp"):
        if s.name == "muscle" and len(s.arguments) == 3:
            ids.add(str(s.arguments[0]))
        elif s.name == "muscle_name" and len(s.arguments) == 2:
            names[str(s.arguments[0])].append(s.arguments[1].string)
    assert sorted(i for i in ids if len(names.get(i, [])) != 1) == []
    assert sorted(n for ns in names.values() for n in ns if n != n.lower()) == []


def test_no_two_nerves_share_a_name_or_alias(engine) -> None:
    """Source: kb/data/nerves.lp header: every name and alias is unique (case-insensitively) across the file."""
    owners: dict[str, set[str]] = defaultdict(set)
    for s in ground_facts(engine.kb_dir / "data" / "nerves.lp"):
        if s.name == "nerve" and len(s.arguments) == 2:
            owners[normalize_name(str(s.arguments[0]))].add(str(s.arguments[0]))
        elif s.name in ("nerve_name", "nerve_alias") and len(s.arguments) == 2:
            owners[normalize_name(s.arguments[1].string)].add(str(s.arguments[0]))
    assert sorted((name, sorted(ids)) for name, ids in owners.items() if len(ids) > 1) == []


# --- the loader's checks of marked rules ----------------------------------------------------------------


def write_kb(tmp_path: Path, program: str) -> Path:
    """A tiny knowledge base: main.lp #includes rules.lp, which holds ``program``."""
    (tmp_path / "rules.lp").write_text(program)
    main = tmp_path / "main.lp"
    main.write_text('#include "rules.lp".\n')
    return main


def test_loader_accepts_a_well_formed_marked_rule(tmp_path: Path) -> None:
    """Source: reasoner/loader.py module docstring: a marked rule that depends on the encounter is loaded and
    recorded with its id (the control case for the rejections below)."""
    program = load_program(write_kb(tmp_path, 'seen(I) :- rule("t.seen"), enc_emg(I, _, _).\n'))
    assert [(m.rule_id, m.head) for m in program.marked] == [("t.seen", "seen(I)")]


def test_loader_rejects_two_markers(tmp_path: Path) -> None:
    """Source: reasoner/loader.py marker convention: a rule names itself with one rule("id") literal."""
    main = write_kb(tmp_path, 'seen(I) :- rule("t.one"), rule("t.two"), enc_emg(I, _, _).\n')
    with pytest.raises(KnowledgeBaseError, match=r"more than one rule\(\.\.\.\) marker") as err:
        load_program(main)
    assert "rules.lp:1" in str(err.value)


@pytest.mark.parametrize("marker", ["rule(t_seen)", "rule(7)", "rule(X)"])
def test_loader_rejects_a_non_string_id(tmp_path: Path, marker: str) -> None:
    """Source: reasoner/loader.py marker convention: the rule id is a string, as in rule("emg.limb.complete")."""
    var = ", enc_emg(X, _, _)" if marker == "rule(X)" else ""
    main = write_kb(tmp_path, f"seen(I) :- {marker}, enc_emg(I, _, _){var}.\n")
    with pytest.raises(KnowledgeBaseError, match="the rule id must be a string"):
        load_program(main)


def test_loader_rejects_a_marked_rule_without_the_encounter(tmp_path: Path) -> None:
    """Source: reasoner/loader.py load_program: a marked rule must depend on the encounter; reference data
    carries no rule(...) marker."""
    main = write_kb(tmp_path, 'ref(1). twice(X) :- rule("t.static"), ref(Y), X = 2 * Y.\n')
    with pytest.raises(KnowledgeBaseError, match="rule t.static does not depend on the encounter") as err:
        load_program(main)
    assert "rules.lp:1" in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "_prov_seen(I) :- enc_emg(I, _, _).\n",
        "seen(I, _prov_member) :- enc_emg(I, _, _).\n",
        "seen(I, f(_prov_3b)) :- enc_emg(I, _, _), I != _prov_x.\n",
        "seen(I) :- enc_emg(I, _, _).\n#show _prov_seen/1.\n",
    ],
)
def test_loader_rejects_a_name_reserved_for_the_trace(tmp_path: Path, text: str) -> None:
    """Source: reasoner/loader.py (_reserved_name): names that begin with _prov_ are the trace's own
    (derivation records, and the tags a batch's records end with, which the reasoner reads as such)."""
    main = write_kb(tmp_path, text)
    with pytest.raises(KnowledgeBaseError, match=r"rules.lp:\d+: the name _prov_\w+ begins with _prov_, which is reserved"):
        load_program(main)


def test_no_encounter_rule_is_pooled(engine) -> None:
    """Source: docs/knowledge-base.md, "How to add a rule" (a list of constants goes in a table):
    the grounder splits a pooled rule into one rule per alternative, and the provenance twin
    repeats the pool in its record (seven codes made 49 rules to ground with the trace)."""
    pooled = []
    for rule in engine.program.rules:
        for text in (rule.single, rule.single_twins):
            statements: list[ast.AST] = []
            ast.parse_string(text, statements.append)
            pooled += [str(s) for s in statements if s.ast_type == ast.ASTType.Rule and len(s.unpool()) > 1]
    assert pooled == []
    # the check sees a pool where there is one
    (stm,) = [s for s in _parsed('p(C) :- q(C), C = ("a"; "b").') if s.ast_type == ast.ASTType.Rule]
    assert len(stm.unpool()) == 2


def _parsed(text: str) -> list[ast.AST]:
    out: list[ast.AST] = []
    ast.parse_string(text, out.append)
    return out


def test_anonymous_variables_of_positive_atoms_are_named_for_grounding() -> None:
    """Source: reasoner/loader.py _name_anonymous: in a positive body atom "_" becomes a variable of its own
    (no projection rule for the grounder), avoiding names the rule uses; in a negative literal and in an
    aggregate element it keeps meaning "any value" and stays as written."""
    from clingo import ast

    from cptkb.reasoner.loader import _name_anonymous

    found: list = []
    ast.parse_string(
        "h(C, N) :- code(C, _), p(f(_, Anon__1)), not gone(C, _), N = #count { X : q(X, _) }.",
        lambda s: found.append(s) if s.ast_type == ast.ASTType.Rule else None,
    )
    assert str(_name_anonymous(found[0])) == (
        "h(C,N) :- code(C,Anon__2); p(f(Anon__3,Anon__1)); not gone(C,_); N = #count { X: q(X,_) }."
    )


@pytest.mark.parametrize(
    ("program", "stratified"),
    [
        ("a(I) :- enc_x(I), not b(I). b(I) :- enc_y(I). c(N) :- N = #count { I : a(I) }, enc_x(_).", True),
        ("a(I) :- enc_x(I), not b(I). b(I) :- enc_x(I), not a(I).", False),
        ("a(I) :- enc_x(I), not a(I).", False),
        ("a(N) :- enc_x(_), N = #count { I : a(I) }.", False),
        (":- enc_x(I), enc_y(I).", False),
        ("{ a(I) } :- enc_x(I).", False),
        ("a(I) ; b(I) :- enc_x(I).", False),
    ],
)
def test_the_loader_tells_stratified_rules(tmp_path: Path, program: str, stratified: bool) -> None:
    """Source: reasoner/loader.py _is_stratified: normal rules with one atom as head and no predicate
    depending on itself through negation or an aggregate are stratified (the answer is read from the
    grounder without solving); a negative cycle, an aggregate through recursion, a constraint, a choice
    or a disjunction is not."""
    assert load_program(write_kb(tmp_path, program + "\n")).stratified is stratified


def test_the_knowledge_base_is_stratified(engine) -> None:
    """Source: docs/knowledge-base.md "How to add a rule": the rules are stratified, so an evaluation
    alone reads its answer from the grounder."""
    assert engine.program.stratified is True
