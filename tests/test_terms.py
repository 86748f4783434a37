"""Terms read from a model match clingo's own symbols: text, equality, hashing and order."""

import clingo
import pytest

from cptkb.reasoner import terms

SYMBOLS = [
    clingo.Number(-7),
    clingo.String('x). bad :- y("\\'),
    clingo.String("line\nbreak"),
    clingo.Function("f", [clingo.Number(1), clingo.Function("g", [clingo.String("a")])]),
    clingo.Function("", [clingo.Number(1)]),
    clingo.Function("", [clingo.Number(1), clingo.Function("b")]),
    clingo.Function("", []),
    clingo.Function("neg", [clingo.Number(2)], False),
    clingo.Function("c"),
    clingo.Infimum,
    clingo.Supremum,
]


@pytest.mark.parametrize("symbol", SYMBOLS, ids=str)
def test_term_reads_symbol(symbol):
    t = terms.of(symbol)
    assert str(t) == str(symbol)
    assert t.type == symbol.type
    assert t == symbol and hash(t) == hash(symbol)
    assert {symbol: 1}[t] == 1
    if symbol.type == clingo.SymbolType.Function:
        assert t.name == symbol.name
        assert list(t.arguments) == symbol.arguments
        assert t.negative == symbol.negative
    if symbol.type == clingo.SymbolType.String:
        assert t.string == symbol.string
    if symbol.type == clingo.SymbolType.Number:
        assert t.number == symbol.number


def test_terms_are_interned_and_ordered_as_clingo_orders_symbols():
    assert terms.of(clingo.Function("c")) is terms.of(clingo.Function("c"))
    assert sorted(terms.of(s) for s in SYMBOLS) == sorted(SYMBOLS)


def test_model_values_read_as_terms():
    ctl = clingo.Control()
    ctl.add("base", [], 'p(1,"two",f(x)). #show p/3.')
    ctl.ground([("base", [])])
    with ctl.solve(yield_=True) as handle:
        (values,) = [terms.shown_values(m) for m in handle]
    assert [str(terms.term(v)) for v in values] == ['p(1,"two",f(x))']


def test_fact_writer_adds_atoms_from_symbols():
    ctl = clingo.Control()
    ctl.add("base", [], "q(X) :- p(X,_).")
    with ctl.backend() as backend:
        writer = terms.FactWriter(backend)
        writer.add("p", [clingo.String('a"b'), terms.of(clingo.Number(3))])
    ctl.ground([("base", [])])
    with ctl.solve(yield_=True) as handle:
        (model,) = list(handle)
        assert sorted(str(s) for s in model.symbols(atoms=True)) == ['p("a\\"b",3)', 'q("a\\"b")']


def test_add_statements_adds_parsed_statements():
    """terms.add_statements adds clingo.ast statements through a program builder, as ProgramBuilder.add does."""
    from clingo import ast

    statements: list = []
    ast.parse_string("q(X) :- p(X). p(1).", statements.append)
    ctl = clingo.Control()
    with ast.ProgramBuilder(ctl) as builder:
        terms.add_statements(builder, statements)
    ctl.ground([("base", [])])
    with ctl.solve(yield_=True) as handle:
        (model,) = list(handle)
        assert sorted(str(s) for s in model.symbols(atoms=True)) == ["p(1)", "q(1)"]


def test_function_makes_the_symbol_clingo_makes() -> None:
    """terms.function builds a function or tuple from its arguments' symbol values with one call into
    clingo; the value is that of the symbol clingo.Function makes (symbols are unique by value)."""
    args = [clingo.Number(3), clingo.String('a "quoted" name'), clingo.Function("left_upper")]
    assert terms.function("limb_entry", [a._rep for a in args]) == clingo.Function("limb_entry", args)._rep
    assert terms.function("", [args[0]._rep]) == clingo.Tuple_([args[0]])._rep
    assert terms.function("", []) == clingo.Tuple_([])._rep
    assert terms.function("any", []) == clingo.Function("any")._rep
    nested = terms.function("f", [terms.function("g", [args[1]._rep])])
    assert str(clingo.Symbol(nested)) == 'f(g("a \\"quoted\\" name"))'  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "name, arguments",
    [("f", [clingo.Number(1), clingo.Function("g", [clingo.String("a")])]), ("", [clingo.Number(1)]), ("", []), ("c", [])],
    ids=["function", "one-tuple", "empty-tuple", "constant"],
)
def test_a_term_made_from_its_parts_is_the_term_read_from_its_symbol(name, arguments):
    made = terms.function_term(name, tuple(terms.of(a) for a in arguments))
    symbol = clingo.Function(name, arguments)
    assert made is terms.of(symbol)  # interned: made once, found again by the symbol's value
    assert str(made) == str(symbol) and made == symbol and hash(made) == hash(symbol)
    assert (made.type, made.name, list(made.arguments), made.negative) == (symbol.type, symbol.name, symbol.arguments, False)


def test_a_term_made_from_its_parts_is_the_one_already_read():
    symbol = clingo.Function("already", [clingo.Number(5)])
    read = terms.of(symbol)
    assert terms.function_term("already", (terms.of(clingo.Number(5)),)) is read
