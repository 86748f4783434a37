"""Run the knowledge base on raw input facts, without the contract wrapper.

For tests of one rule family: give input facts in the schema of kb/schema.lp,
get back the sorted atoms of the predicates asked for. Conclusions of marked
rules (limb_complete/1, ncs_study_count/1 ...) come from the trace; output
atoms (code/2, finding/3 ...) from the shown atoms. Findings of the NCCI,
necessity and provider layers are left out: their own tests cover them.
"""

from __future__ import annotations

import datetime as dt

import clingo

from cptkb.reasoner.engine import Engine
from cptkb.reasoner.result import read_derivations
from cptkb.reasoner.validate import Encounter


def _keys(symbols: list[clingo.Symbol]) -> frozenset[str]:
    """The constants the facts name: the keys of the keyed reference rows to ground."""
    return frozenset(
        str(a) for s in symbols for a in s.arguments if a.type == clingo.SymbolType.Function and not a.arguments
    )


def _solve(engine: Engine, facts: list[str], date: int) -> list:
    symbols = [clingo.parse_term(f) for f in facts]
    if not any(s.name == "enc_date" for s in symbols):
        symbols.append(clingo.Function("enc_date", [clingo.Number(date)]))
    d = next(s for s in symbols if s.name == "enc_date").arguments[0].number
    enc = Encounter(
        "unit", dt.date(d // 10000, d // 100 % 100, d % 100), "11", [(s.name, tuple(s.arguments)) for s in symbols], _keys(symbols)
    )
    (atoms,) = engine.solve([enc], trace=True)
    return atoms


def derive(engine: Engine, facts: list[str], predicates: set[str], date: int = 20240501) -> list[str]:
    """Sorted atoms (as text) of ``predicates`` that the knowledge base derives from ``facts``."""
    atoms = _solve(engine, facts, date)
    found = {str(a) for a in atoms if a.name in predicates}
    found |= {str(d.head) for d in read_derivations(atoms) if d.head.name in predicates}
    # the findings of the NCCI, necessity, provider and documentation layers belong to their own tests
    return sorted(f for f in found if not f.startswith(('finding("ncci.', 'finding("necessity.', 'finding("provider.', 'finding("doc.')))


def rules_fired(engine: Engine, facts: list[str], date: int = 20240501) -> set[str]:
    """The ids of every rule that fired."""
    return {d.rule for d in read_derivations(_solve(engine, facts, date))}
