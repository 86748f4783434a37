"""Message rules evaluated by the reasoner (reasoner/messages.py): which rules qualify, and that the
evaluation derives what clingo derives from the same rule."""

from pathlib import Path

import clingo
import pytest
from clingo import ast

from cptkb.reasoner import derive, messages, terms
from cptkb.reasoner.loader import _name_anonymous, load_program


def _rule(text: str) -> ast.AST:
    found: list[ast.AST] = []
    ast.parse_string(text, lambda s: found.append(s) if s.ast_type == ast.ASTType.Rule else None)
    (rule,) = found
    return rule


def _indexed(atoms: messages.Atoms) -> derive.Indexed:
    """The atoms of a test control, indexed as the engine indexes them (no reference data of its own)."""
    return derive.Indexed(atoms, derive.Reference([], {}, set()), [])


@pytest.mark.parametrize(
    "text",
    [
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N).',
        'finding_code("t.x", K, C) :- finding("t.x", _, K), code(C, _).',
        'finding_arg("t.x", (C1, C2), why, W) :- finding("t.x", info, (C1, C2)), why(C1, C2, f(W, a)).',
        'finding_code("t.x", L, "95905") :- finding("t.x", warning, L).',
    ],
)
def test_a_message_rule_is_recognised(text: str) -> None:
    """Source: reasoner/messages.py: a finding_arg/4 or finding_code/3 head, one finding/3 literal with a
    string id, positive atoms over constants, variables, functions and tuples."""
    assert messages.finding_of(_rule(text)) == "t.x"


@pytest.mark.parametrize(
    "text",
    [
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N), N > 2.',
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N), not gone(K).',
        'finding_arg("t.x", K, count, M) :- finding("t.x", warning, K), amount(K, N), M = N + 1.',
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N + 1).',
        'finding_arg("t.x", K, count, N) :- finding(F, warning, K), amount(K, N), F = "t.x".',
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), finding("t.y", warning, K), amount(K, N).',
        'finding_arg("t.x", K, count, N) :- amount(K, N).',
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), N = #count { M : amount(K, M) }.',
        'other("t.x", K) :- finding("t.x", warning, K).',
        'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N) : limb(K).',
    ],
)
def test_anything_else_is_grounded_as_usual(text: str) -> None:
    """Source: reasoner/messages.py: comparisons, negation, arithmetic, a finding id that is not a string,
    two finding literals or none, aggregates, conditional literals and other heads are left to clingo."""
    assert messages.finding_of(_rule(text)) is None


PROGRAM = """
finding("t.x", warning, left). finding("t.x", warning, right). finding("t.p", info, ("a", "b")).
amount(left, 3). amount(left, 4). amount(right, 5). amount(up, 9).
why("a", "b", f(1, a)). why("a", "b", f(2, c)). why("a", "c", f(3, a)).
code("95860", 1). code("95885", 2).
"""
RULES = [
    'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), amount(K, N).',
    'finding_code("t.x", K, C) :- finding("t.x", _, K), code(C, _).',
    'finding_arg("t.p", (C1, C2), why, W) :- finding("t.p", info, (C1, C2)), why(C1, C2, f(W, a)).',
    'finding_code("t.p", (C1, C2), C2) :- finding("t.p", info, (C1, C2)).',
    'finding_arg("t.none", K, count, N) :- finding("t.none", info, K), amount(K, N).',
]


def test_evaluation_derives_what_clingo_derives() -> None:
    """Source: reasoner/messages.py evaluate: over the same atoms, the message rules give the atoms clingo
    grounds from them (constants, repeated variables, tuples, a function with a constant inside, the
    anonymous variable, a finding that does not hold)."""
    expected_ctl = clingo.Control()
    expected_ctl.add("base", [], PROGRAM + "\n".join(RULES) + "\n#show finding_arg/4. #show finding_code/3.")
    expected_ctl.ground([("base", [])])
    with expected_ctl.solve(yield_=True) as handle:
        expected = sorted(str(s) for m in handle for s in m.symbols(shown=True))
    assert len(expected) == 9

    ctl = clingo.Control()
    ctl.add("base", [], PROGRAM)
    ctl.ground([("base", [])])
    compiled: dict[str, list[derive.RulePlan]] = {}
    for text in RULES:
        compiled.setdefault(messages.finding_of(_rule(text)) or "", []).append(messages.compile_rule(text))
    found = [s.symbol.arguments[0].string for s in ctl.symbolic_atoms.by_signature("finding", 3)]
    derived = messages.evaluate(compiled, found, _indexed(messages.Atoms(ctl, lambda rep: False)))
    got = sorted(str(clingo.Function(name, [terms.term(r).symbol() for r in args])) for name, args in derived)
    assert got == expected


def test_an_atom_the_grounder_left_open_counts_as_the_model_says(tmp_path: Path) -> None:
    """Source: reasoner/messages.py Atoms: an atom that is not a fact after grounding is true when the
    model says so (the knowledge base is stratified and never leaves one open; a choice does)."""
    ctl = clingo.Control(["0"])
    ctl.add("base", [], 'finding("t.x", warning, left). {amount(left, 3); amount(left, 4)}.')
    ctl.ground([("base", [])])
    (rule,) = [messages.compile_rule(RULES[0])]
    found = [s.symbol.arguments[0].string for s in ctl.symbolic_atoms.by_signature("finding", 3)]
    holds = {clingo.Function("amount", [clingo.Function("left"), clingo.Number(4)])._rep}
    derived = messages.evaluate({"t.x": [rule]}, found, _indexed(messages.Atoms(ctl, lambda rep: rep in holds)))
    assert [str(clingo.Function(n, [terms.term(r).symbol() for r in a])) for n, a in derived] == [
        'finding_arg("t.x",left,count,4)'
    ]


def test_the_knowledge_base_marks_its_message_rules(engine) -> None:
    """Source: kb/rules/necessity.lp: the four rules that fill the max-studies finding are message rules;
    an encounter alone leaves them out of its selection, a batch grounds them."""
    program = engine.program
    mine = [r for r in program.rules if r.message == "necessity.max_studies"]
    assert len(mine) == 4
    assert all(r.head[0][0] in ("finding_arg", "finding_code") for r in mine)
    inputs = frozenset(program.dynamic)
    single = {str(s) for s in program.select(inputs, False, single=True)}
    batch = {str(s) for s in program.select(inputs, False)}
    for rule in mine:
        assert str(_name_anonymous(_rule(rule.single))) not in single
        assert str(_name_anonymous(_rule(rule.text))) in batch
    finding_rules = [r for r in program.rules if r.head == (("finding", 3),) and "necessity.max_studies" in r.single]
    assert [str(_name_anonymous(_rule(r.single))) in single for r in finding_rules] == [True]


def test_a_constant_definition_leaves_every_message_rule_to_clingo(tmp_path: Path) -> None:
    """Source: reasoner/loader.py: the reasoner reads constants as written, so with a #const the message
    rules are grounded."""
    rule = 'finding_arg("t.x", K, count, N) :- finding("t.x", warning, K), enc_amount(K, N).\n'
    (tmp_path / "rules.lp").write_text(rule)
    main = tmp_path / "main.lp"
    main.write_text('#include "rules.lp".\n')
    assert [r.message for r in load_program(main).rules] == ["t.x"]
    (tmp_path / "rules.lp").write_text("#const top = 4.\n" + rule)
    assert [r.message for r in load_program(main).rules] == [""]


def test_an_atom_the_grounder_left_open_is_reported_without_a_model() -> None:
    """Source: reasoner/messages.py Atoms.values: with no model to ask, an atom that is not a fact after
    grounding raises Unsettled (the engine then solves); facts are read as they are."""
    ctl = clingo.Control()
    ctl.add("base", [], "fact(1). fact(2). {open(1)}.")
    ctl.ground([("base", [])])
    atoms = messages.Atoms(ctl)
    assert sorted(terms.term(r).arguments[0].number for r in atoms.values("fact", 1)) == [1, 2]
    with pytest.raises(messages.Unsettled, match=r"open\(1\)"):
        atoms.values("open", 1)
    with pytest.raises(messages.Unsettled, match=r"open\(1\)"):  # not kept half read
        atoms.of("open", 1)


@pytest.mark.parametrize(
    ("text", "evaluated"),
    [
        ('kb_fault("x", C) :- bill_unit(C, _), not in_force(C).', True),
        ('kb_fault("x", (A, B)) :- code(A, _), code(B, _), A < B.', True),
        ('kb_fault("x", N) :- code(C, _), N = #sum { U, D : code(D, U) }, N > 4.', True),
        ('kb_fault("x", N) :- code(C, _), #count { D : code(D, _) } > 2, N = 1.', False),  # N bound by "="
        ('kb_fault("x", C) :- code(C, _), not gone(C, _).', True),
        ('kb_fault("x", C) :- code(C, _), not gone(D).', False),  # D bound by nothing
        ('kb_fault("x", C) :- code(C, N), N > M.', False),
        ('kb_fault("x", C) :- code(C, N), N + 1 > 4.', False),
        ('kb_fault("x", C) :- code(C, N), M = #min { U : code(_, U) }.', True),
        ('kb_fault("x", C) :- code(C, N), M = #count { U : code(_, U), not gone(U) }.', False),
        ('kb_fault("x", C) :- code(C, _), not not in_force(C).', False),
        ('kb_fault("x", C, D) :- code(C, D).', False),
    ],
)
def test_which_check_rules_the_reasoner_evaluates(text: str, evaluated: bool) -> None:
    """Source: reasoner/messages.py is_check: positive and negative atoms, comparisons and
    #count/#sum/#min/#max aggregates over positive atoms, every variable bound before it is used (an
    aggregate may bind one with "="), no arithmetic; anything else is grounded."""
    assert messages.is_check(_rule(text)) is evaluated


AGGREGATE_DATA = """
w(a, 3). w(a, -2). w(a, "s"). w(a, f(1)). w(b, 5). w(b, 5). w(c, 0).
k(a). k(b). k(c). k(d).
"""
AGGREGATE_RULES = [
    'kb_fault("count", (K, N)) :- k(K), N = #count { V : w(K, V) }.',
    'kb_fault("sum", (K, N)) :- k(K), N = #sum { V : w(K, V) }.',
    'kb_fault("sum+", (K, N)) :- k(K), N = #sum+ { V : w(K, V) }.',
    'kb_fault("min", (K, N)) :- k(K), N = #min { V : w(K, V) }.',
    'kb_fault("max", (K, N)) :- k(K), N = #max { V : w(K, V) }.',
    'kb_fault("min<", K) :- k(K), #min { V : w(K, V) } < 1.',
    'kb_fault("max>=", K) :- k(K), 3 >= #max { V : w(K, V) }.',
]


def test_aggregates_evaluate_as_clingo_evaluates() -> None:
    """Source: reasoner/messages.py aggregate_value: #count, #sum (integers only), #sum+ (positive
    integers only), #min and #max (any symbols, in clingo's order; #sup and #inf over nothing), bound
    with "=" or compared, give what clingo gives over the same atoms."""
    expected_ctl = clingo.Control(["--warn=none"])
    expected_ctl.add("base", [], AGGREGATE_DATA + "\n".join(AGGREGATE_RULES) + "\n#show kb_fault/2.")
    expected_ctl.ground([("base", [])])
    with expected_ctl.solve(yield_=True) as handle:
        expected = sorted(str(s) for m in handle for s in m.symbols(shown=True))
    assert 'kb_fault("min",(d,#sup))' in expected and 'kb_fault("max",(a,f(1)))' in expected
    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], AGGREGATE_DATA)
    ctl.ground([("base", [])])
    rules = [messages.compile_rule(t) for t in AGGREGATE_RULES]
    derived = messages.evaluate({"": rules}, [], _indexed(messages.Atoms(ctl)))
    got = sorted(str(clingo.Function(n, [terms.term(r).symbol() for r in a])) for n, a in derived)
    assert got == expected


CHECK_DATA = """
bill_unit("95860", 1). bill_unit("95870", 1). in_force("95860").
code("95885", 3). code("95886", 2). code("95860", 1). code("95907", 1). code("95908", 1).
limb_addon("95885"). limb_addon("95886").
emg_family("95860", no_ncs). emg_family("95885", with_ncs). emg_family("95886", with_ncs).
cpt_addon("95885"). cpt_addon("95886"). addon_has_primary("95885").
code_group("95907", ncs_studies). code_group("95908", ncs_studies).
"""


def test_the_knowledge_base_check_rules_fire_as_clingo_fires_them(engine) -> None:
    """Source: kb/rules/codes.lp (the five knowledge-base fault checks): over atoms that break every one
    of them, the reasoner's evaluation derives the kb_fault atoms clingo grounds from the same rules
    (a negative atom, a comparison, a #sum aggregate bound with "=" and compared), and none over
    atoms that break none."""
    texts = [r.single for r in engine.program.rules if r.check]
    assert len(texts) == 5
    for data, count in ((CHECK_DATA, 6), ('code("95860", 1). in_force("95860"). emg_family("95860", no_ncs).', 0)):
        expected_ctl = clingo.Control(["--warn=none"])
        expected_ctl.add("base", [], data + "\n".join(texts) + "\n#show kb_fault/2.")
        expected_ctl.ground([("base", [])])
        with expected_ctl.solve(yield_=True) as handle:
            expected = sorted(str(s) for m in handle for s in m.symbols(shown=True))
        assert len(expected) == count
        ctl = clingo.Control(["--warn=none"])
        ctl.add("base", [], data)
        ctl.ground([("base", [])])
        derived = messages.evaluate({"": [messages.compile_rule(t) for t in texts]}, [], _indexed(messages.Atoms(ctl)))
        got = sorted(str(clingo.Function(n, [terms.term(r).symbol() for r in a])) for n, a in derived)
        assert got == expected
