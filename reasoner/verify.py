"""`cptkb verify`: invariants checked by search, and structural checks of the knowledge base.

Invariants (kb/verify/invariants.lp, and any file given) are rules
``violation(Id) :- ...`` over the knowledge base's conclusions. The verifier
grounds every encounter rule of the knowledge base together with the bounded
encounter space of kb/verify/space.lp (choice rules over input facts) and asks
clingo for an encounter in which the violation holds. None found: the
invariant holds over the space. One found: it comes back as a contract-v1
encounter, ready for `cptkb evaluate`.

Structural checks: every marked rule has a source and an evidence tag; every
predicate a rule reads is defined by a rule, a fact or the schema; no rule is
dead (it can never fire, whatever the input); no atom depends on itself
through negation (so every encounter has exactly one answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clingo
import networkx as nx
from clingo import ast

from .engine import Engine, _clingo_logger
from .loader import ENCOUNTER, KnowledgeBaseError, Signature, _atoms, _signature

VIOLATION = ("violation", 1)


@dataclass
class InvariantResult:
    ident: str
    text: str
    holds: bool
    counterexample: dict[str, Any] | None = None
    switches: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0
    undecided: bool = False  # the time limit ran out before the search ended

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"invariant": self.ident, "text": self.text, "holds": self.holds}
        if self.undecided:
            out["undecided"] = True
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
            out["switches"] = self.switches
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class Report:
    invariants: list[InvariantResult]
    structure: list[str]  # problems found; empty when sound

    @property
    def ok(self) -> bool:
        return not self.structure and all(r.holds and not r.undecided for r in self.invariants)

    def to_text(self) -> str:
        lines = []
        for r in self.invariants:
            status = "undecided (time limit)" if r.undecided else ("holds" if r.holds else "VIOLATED")
            lines.append(f"{status:>22}  {r.ident}: {r.text} ({r.seconds:.2f} s)")
            if r.counterexample is not None:
                import json

                lines.append("    counterexample" + (f" (switches: {', '.join(r.switches)})" if r.switches else "") + ":")
                lines.append("    " + json.dumps(r.counterexample, ensure_ascii=False))
        lines.append(f"structure: {'sound' if not self.structure else str(len(self.structure)) + ' problem(s)'}")
        lines += [f"  - {p}" for p in self.structure]
        lines.append("verify: " + ("all invariants hold" if self.ok else "problems found"))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "invariants": [r.to_dict() for r in self.invariants],
            "structure": self.structure,
        }


class _Zero(ast.Transformer):
    """Gives every encounter atom (and violation/1) the encounter number 0."""

    def __init__(self, dynamic: set[Signature]) -> None:
        self.dynamic = dynamic | {VIOLATION}

    def visit_SymbolicAtom(self, atom: ast.AST) -> ast.AST:  # noqa: N802 (clingo visitor name)
        term = atom.symbol
        sig = _signature(term)
        if sig is None or sig not in self.dynamic:
            return atom
        zero = ast.SymbolicTerm(term.location, clingo.Number(0))
        if term.ast_type == ast.ASTType.Function:
            return ast.SymbolicAtom(ast.Function(term.location, term.name, [zero, *term.arguments], term.external))
        return ast.SymbolicAtom(ast.Function(term.location, sig[0], [zero], 0))


def _program_text(files: list[Path], dynamic: set[Signature]) -> str:
    statements: list[ast.AST] = []
    messages: list[str] = []

    def add(stm: ast.AST) -> None:
        if stm.ast_type not in (ast.ASTType.Comment, ast.ASTType.Program):
            statements.append(stm)

    try:
        ast.parse_files([str(f) for f in files], add, logger=lambda c, m: messages.append(m.strip()), message_limit=20)
    except RuntimeError as exc:
        raise KnowledgeBaseError(f"verification program does not parse: {'; '.join(messages) or exc}") from exc
    # Helpers of the invariants that read encounter atoms are encounter atoms too.
    dyn = set(dynamic) | {VIOLATION}
    changed = True
    while changed:
        changed = False
        for stm in statements:
            if stm.ast_type != ast.ASTType.Rule:
                continue
            heads = _atoms(stm.head)
            if any(sig in dyn for lit in stm.body for sig in _atoms(lit)):
                for h in heads:
                    if h not in dyn:
                        dyn.add(h)
                        changed = True
    zero = _Zero(dyn)
    return "\n".join(str(zero(stm)) for stm in statements)


def _encounter_json(atoms: list[clingo.Symbol], engine: Engine) -> tuple[dict[str, Any], dict[str, bool]]:
    """The contract-v1 encounter that the generated input facts stand for."""
    v = engine.vocab
    by: dict[str, list[tuple[clingo.Symbol, ...]]] = {}
    for a in atoms:
        by.setdefault(a.name, []).append(tuple(a.arguments[1:]))
    date = by["enc_date"][0][0].number
    enc: dict[str, Any] = {
        "id": "counterexample",
        "date_of_service": f"{date // 10000:04d}-{date // 100 % 100:02d}-{date % 100:02d}",
        "place_of_service": by["enc_pos"][0][0].string,
    }
    levels = {str(i): str(lv) for i, lv in by.get("enc_emg_level", [])}
    emg = []
    for i, m, s in sorted(by.get("enc_emg", []), key=lambda t: str(t)):
        entry: dict[str, Any] = {"muscle": v.muscles[str(m)].name, "side": str(s)}
        if str(i) in levels:
            entry["level"] = levels[str(i)].upper()
        emg.append(entry)
    if emg:
        enc["needle_emg"] = emg
    fwave = {str(i) for (i,) in by.get("enc_ncs_fwave", [])}
    ncs = []
    for i, n, s, t, _b in sorted(by.get("enc_ncs", []), key=lambda t: str(t)):
        entry = {"nerve": v.nerves[str(n)].name, "side": str(s), "study": str(t)}
        if str(i) in fwave:
            entry["f_wave"] = True
        ncs.append(entry)
    if ncs:
        enc["nerve_conduction"] = ncs
    other: list[dict[str, Any]] = []
    for _i, n, s in sorted(by.get("enc_rns", []), key=lambda t: str(t)):
        other.append({"test": "repetitive_stimulation", "nerve": v.nerves[str(n)].name, "side": str(s)})
    for _i, m, s in sorted(by.get("enc_sfemg", []), key=lambda t: str(t)):
        other.append({"test": "single_fiber_emg", "muscle": v.muscles[str(m)].name, "side": str(s)})
    for _i, limb in sorted(by.get("enc_array", []), key=lambda t: str(t)):
        other.append({"test": "electrode_array_ncs", "limb": str(limb)})
    if other:
        enc["other_tests"] = other
    if "enc_claim_given" in by:
        mods: dict[str, list[str]] = {}
        for i, mod in by.get("enc_claim_mod", []):
            mods.setdefault(str(i), []).append(mod.string)
        enc["claim"] = [
            {"code": c.string, "units": u.number, "modifiers": sorted(mods.get(str(i), []))}
            for i, c, u in sorted(by.get("enc_claim", []), key=lambda t: str(t))
        ]
    switches = {str(name): True for (name,) in by.get("switch", [])}
    return enc, switches


def check_invariants(engine: Engine, extra: list[Path] | None = None, time_limit: float = 30.0) -> list[InvariantResult]:
    verify_dir = engine.kb_dir / "verify"
    files = [verify_dir / "space.lp", verify_dir / "invariants.lp", *(extra or [])]
    for f in files:
        if not f.is_file():
            raise KnowledgeBaseError(f"no verification file at {f}")
    program = engine.program
    text = _program_text(files, program.dynamic)
    ctl = clingo.Control(["--warn=no-atom-undefined"], logger=_clingo_logger, message_limit=50)
    ctl.add("base", [], "\n".join([program.whole_text(), text, f"{ENCOUNTER}(0)."]))
    ctl.ground([("base", [])])
    texts: dict[str, str] = {}
    for atom in ctl.symbolic_atoms.by_signature("invariant", 2):
        texts[atom.symbol.arguments[0].string] = atom.symbol.arguments[1].string
    results = []
    for ident in sorted(texts):
        started = time.perf_counter()
        target = clingo.Function("violation", [clingo.Number(0), clingo.String(ident)])
        found: list[list[clingo.Symbol]] = []
        undecided = False
        if ctl.symbolic_atoms[target] is not None:

            def keep(model: clingo.Model, found: list[list[clingo.Symbol]] = found) -> bool:
                found.append([a for a in model.symbols(atoms=True) if a.name.startswith("enc_") or a.name == "switch"])
                return False  # one counterexample is enough

            with ctl.solve(assumptions=[(target, True)], on_model=keep, async_=True) as handle:
                if not handle.wait(time_limit):
                    handle.cancel()
                    undecided = not found
        result = InvariantResult(ident, texts[ident], not found, seconds=time.perf_counter() - started, undecided=undecided)
        if found:
            result.counterexample, result.switches = _encounter_json(found[0], engine)
        results.append(result)
    return results


def check_structure(engine: Engine) -> list[str]:
    problems: list[str] = []
    program = engine.program
    for m in program.marked:
        src = engine.vocab.rules.get(m.rule_id)
        if src is None:
            problems.append(f"{Path(m.file).name}:{m.line}: rule {m.rule_id} has no rule_source/5")
        elif not src.document or not src.section or src.evidence not in engine.vocab.evidence_labels:
            problems.append(f"rule {m.rule_id}: source, section or evidence tag missing")
    # Predicates read and defined.
    defined: set[Signature] = set(program.provided) | set(program.keyed_tables)
    read: set[Signature] = set()
    graph = nx.DiGraph()
    for rule in program.rules:
        defined.update(rule.head)
        defined.update(rule.twin_heads)  # a twin may read another's record (prov_member/3)
        read.update(rule.uses)
        read.update(rule.reads)
        for stm in _statements(rule.text):
            heads = set(_atoms(stm.head))
            for lit in stm.body:
                negative = lit.ast_type == ast.ASTType.Literal and lit.sign != ast.Sign.NoSign
                for sig in set(_atoms(lit)):
                    for h in heads:
                        graph.add_edge(sig, h)
                        if negative or lit.atom.ast_type == ast.ASTType.BodyAggregate:
                            graph.edges[sig, h]["negative"] = True
    for stm in program.static:
        defined.update(stm.heads)
    for sig in sorted(read - defined - {(ENCOUNTER, 0)}):
        problems.append(f"predicate {sig[0]}/{sig[1]} is read but no rule, fact or schema entry defines it")
    # Dead rules: those that cannot fire even with every input predicate present.
    everything = frozenset(s for s in program.dynamic if s[0].startswith("enc_") or s[0] == "switch")
    chosen_texts = set(program.select(everything, False, text=True).split("\n"))
    for rule in program.rules:
        if rule.text not in chosen_texts:
            problems.append(f"rule can never fire (an encounter predicate it needs is never derived): {rule.text}")
    # Stratification: no cycle through negation or an aggregate.
    for component in nx.strongly_connected_components(graph):
        sub = graph.subgraph(component)
        for u, v, data in sub.edges(data=True):
            if data.get("negative"):
                problems.append(f"{u[0]}/{u[1]} and {v[0]}/{v[1]} depend on each other through negation or an aggregate")
    return problems


def _statements(text: str) -> list[ast.AST]:
    out: list[ast.AST] = []
    ast.parse_string(text, out.append)
    return [s for s in out if s.ast_type == ast.ASTType.Rule]


def verify(engine: Engine, extra: list[Path] | None = None, time_limit: float = 30.0) -> Report:
    return Report(check_invariants(engine, extra, time_limit), check_structure(engine))
