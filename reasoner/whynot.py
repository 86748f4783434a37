"""Why not: for a code outside an encounter's code set, the rules that could produce it and, for
each, the conditions that failed with the facts that made them fail; for a code inside, why it is.

The answer is read off the encounter's answer set by a small goal-directed
evaluator over the knowledge base's own rules (the same rules the engine
grounds): starting from ``code(C, _)``, each rule whose head can produce the
goal is matched against the answer set, literal by literal, binding
reference data first; where the match stops, the failing literal is the
reason: an atom that does not hold (and, for a derived atom, the same
question asked of the rules that would derive it, a few levels down), a
comparison that is false with the values that made it so, a count that came
out different (with what was counted), or an atom whose presence blocks the
rule (a negated condition that failed: for example a same-day nerve
conduction study). Each rule comes with its id, citation and evidence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterator, Mapping

import clingo
from clingo import ast

from .engine import Engine
from .terms import FactWriter
from .guards import OPERATORS
from .loader import ENCOUNTER, ENCOUNTER_VAR, is_prov_name
from .result import Result

MAX_DEPTH = 4
MAX_FAILURES_PER_RULE = 4
MAX_STEPS = 20000



# --- terms as patterns --------------------------------------------------------------------------

class Var:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


Pattern = Any  # Var | clingo.Symbol | tuple("f", name, [patterns]) | tuple("op", op, l, r)
Binding = dict[str, clingo.Symbol]

_anon = itertools.count()


def _pattern(term: ast.AST) -> Pattern:
    t = term.ast_type
    if t == ast.ASTType.Variable:
        return Var(f"_anon{next(_anon)}" if term.name == "_" else term.name)
    if t == ast.ASTType.SymbolicTerm:
        return term.symbol
    if t == ast.ASTType.Function:
        return ("f", term.name, [_pattern(a) for a in term.arguments])
    if t == ast.ASTType.BinaryOperation:
        return ("op", str(term.operator_type), _pattern(term.left), _pattern(term.right))
    if t == ast.ASTType.UnaryOperation:
        return ("op", "neg", _pattern(term.argument), None)
    raise ValueError(f"unsupported term {term}")


def _ground(p: Pattern, b: Binding) -> clingo.Symbol | None:
    if isinstance(p, Var):
        return b.get(p.name)
    if isinstance(p, clingo.Symbol):
        return p
    if p[0] == "f":
        args = [_ground(a, b) for a in p[2]]
        if any(a is None for a in args):
            return None
        return clingo.Function(p[1], args)  # type: ignore[arg-type]
    left = _ground(p[2], b)
    right = _ground(p[3], b) if p[3] is not None else None
    if left is None or left.type != clingo.SymbolType.Number:
        return None
    if p[1] == "neg":
        return clingo.Number(-left.number)
    if right is None or right.type != clingo.SymbolType.Number:
        return None
    x, y = left.number, right.number
    value = {"Plus": x + y, "Minus": x - y, "Multiplication": x * y}.get(p[1].rsplit(".", 1)[-1])
    return clingo.Number(value) if value is not None else None


def _unify(p: Pattern, s: clingo.Symbol, b: Binding) -> Binding | None:
    if isinstance(p, Var):
        bound = b.get(p.name)
        if bound is None:
            out = dict(b)
            out[p.name] = s
            return out
        return b if bound == s else None
    if isinstance(p, clingo.Symbol):
        return b if p == s else None
    if p[0] == "f":
        if s.type != clingo.SymbolType.Function or s.name != p[1] or len(s.arguments) != len(p[2]):
            return None
        for pa, sa in zip(p[2], s.arguments, strict=True):
            b2 = _unify(pa, sa, b)
            if b2 is None:
                return None
            b = b2
        return b
    g = _ground(p, b)
    return b if g is not None and g == s else None


def _show(p: Pattern, b: Binding) -> str:
    """A pattern with its bound variables filled in and the others shown as _ (encounter number dropped)."""
    if isinstance(p, Var):
        v = b.get(p.name)
        return "_" if v is None else str(v)
    if isinstance(p, clingo.Symbol):
        return str(p)
    if p[0] == "f":
        args = p[2]
        if args and isinstance(args[0], Var) and args[0].name == ENCOUNTER_VAR:
            args = args[1:]
        inner = ",".join(_show(a, b) for a in args)
        if not p[1]:
            return f"({inner})"
        return f"{p[1]}({inner})" if args else p[1]
    g = _ground(p, b)
    return str(g) if g is not None else "_"


def _vars(p: Pattern) -> set[str]:
    if isinstance(p, Var):
        return {p.name}
    if isinstance(p, clingo.Symbol):
        return set()
    if p[0] == "f":
        return set().union(*(_vars(a) for a in p[2])) if p[2] else set()
    return _vars(p[2]) | (_vars(p[3]) if p[3] is not None else set())


# --- rules ----------------------------------------------------------------------------------------

@dataclass
class _Lit:
    kind: str  # "pos", "neg", "cmp", "agg"
    atom: Pattern = None  # pos/neg: ("f", name, args)
    op: str = ""
    left: Pattern = None
    right: Pattern = None
    function: str = ""
    elements: list[tuple[list[Pattern], list[_Lit]]] = field(default_factory=list)
    text: str = ""

    def variables(self) -> set[str]:
        if self.kind in ("pos", "neg"):
            return _vars(self.atom)
        if self.kind == "cmp":
            return _vars(self.left) | _vars(self.right)
        return _vars(self.left) if self.left is not None else set()


@dataclass
class _Rule:
    rule_id: str | None
    head: Pattern
    body: list[_Lit]
    text: str


def _literal(lit: ast.AST) -> _Lit:
    atom = lit.atom
    if atom.ast_type == ast.ASTType.SymbolicAtom:
        kind = "pos" if lit.sign == ast.Sign.NoSign else "neg"
        return _Lit(kind, atom=_pattern(atom.symbol), text=str(lit))
    if atom.ast_type == ast.ASTType.Comparison:
        (guard,) = atom.guards
        return _Lit("cmp", op=OPERATORS[guard.comparison], left=_pattern(atom.term), right=_pattern(guard.term), text=str(lit))
    if atom.ast_type == ast.ASTType.BodyAggregate:
        guard = atom.left_guard
        elements = [([_pattern(t) for t in e.terms], [_literal(c) for c in e.condition]) for e in atom.elements]
        function = {ast.AggregateFunction.Count: "count", ast.AggregateFunction.Sum: "sum"}.get(atom.function, "other")
        return _Lit("agg", op=OPERATORS[guard.comparison], left=_pattern(guard.term), function=function, elements=elements, text=str(lit))
    raise ValueError(f"unsupported literal {lit}")


def _rules(engine: Engine) -> list[_Rule]:
    cached = getattr(engine, "_whynot_rules", None)
    if cached is not None:
        return cached
    out = []
    for rule in engine.program.rules:
        rule_id = None
        if rule.single_twins:
            twins: list[ast.AST] = []
            ast.parse_string(rule.single_twins, twins.append)
            for t in twins:
                if t.ast_type == ast.ASTType.Rule and is_prov_name(t.head.atom.symbol.name):
                    rule_id = t.head.atom.symbol.arguments[0].symbol.string
                    break
        statements: list[ast.AST] = []
        ast.parse_string(rule.text, statements.append)
        for stm in statements:
            if stm.ast_type != ast.ASTType.Rule or stm.head.ast_type != ast.ASTType.Literal:
                continue
            if stm.head.atom.ast_type != ast.ASTType.SymbolicAtom:
                continue
            try:
                body = [_literal(lit) for lit in stm.body]
                out.append(_Rule(rule_id, _pattern(stm.head.atom.symbol), body, str(stm)))
            except (ValueError, AttributeError):
                continue
    engine._whynot_rules = out  # type: ignore[attr-defined]
    return out


# --- the answer ---------------------------------------------------------------------------------------

@dataclass
class Condition:
    """A condition of a rule that failed: what was needed, what was there instead, and why (deeper)."""

    kind: str  # "missing", "blocked", "comparison", "count"
    needed: str
    text: str
    found: list[str] = field(default_factory=list)
    because: list[RuleMiss] = field(default_factory=list)
    reference: bool = False  # a reference-data atom that is missing: no encounter could supply it
    searched: bool = False  # the rules that would derive the missing atom were examined

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "needed": self.needed,
            "text": self.text,
            "found": self.found,
            "because": [m.to_dict() for m in self.because],
        }


@dataclass
class RuleMiss:
    """A rule that could have concluded the goal, how far it matched, and the condition where it stopped."""

    rule: str | None
    source: str
    evidence: str
    concludes: str
    held: list[str]
    failed: Condition

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "source": self.source,
            "evidence": self.evidence,
            "concludes": self.concludes,
            "held": self.held,
            "failed": self.failed.to_dict(),
        }


@dataclass
class WhyNot:
    code: str
    in_set: bool
    result: Result
    misses: list[RuleMiss]
    justification: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "in_code_set": self.in_set, "codes": [c.to_dict() for c in self.result.codes]}
        if self.in_set:
            out["justification"] = self.justification
        else:
            out["rules"] = [m.to_dict() for m in self.misses]
        return out

    def to_text(self) -> str:
        if self.in_set:
            return f"{self.code} is in the valid code set of {self.result.id}. Why:\n{self.justification}"
        codes = ", ".join(c.code for c in self.result.codes) or "none"
        lines = [f"{self.code} is not in the valid code set of {self.result.id} (codes: {codes})."]
        if not self.misses:
            lines.append("No rule of the knowledge base can produce it for this date of service.")
        for m in self.misses:
            lines += _miss_lines(m, 0)
        return "\n".join(lines) + "\n"


def _miss_lines(m: RuleMiss, level: int) -> list[str]:
    pad = "  " * level
    name = m.rule or "(helper rule)"
    lines = [f"{pad}- rule {name} would conclude {m.concludes}", f"{pad}  source: {m.source}; {m.evidence}"]
    if m.held:
        lines.append(f"{pad}  held: {', '.join(m.held)}")
    lines.append(f"{pad}  failed: {m.failed.text}")
    if m.failed.found:
        label = {"comparison": "values", "blocked": "blocking", "count": "counted"}.get(m.failed.kind, "found instead")
        lines.append(f"{pad}  {label}: {', '.join(m.failed.found)}")
    for sub in m.failed.because:
        lines += _miss_lines(sub, level + 2)
    return lines


class _Explainer:
    def __init__(self, engine: Engine, atoms: list[clingo.Symbol], result: Result) -> None:
        self.engine = engine
        self.rules = _rules(engine)
        self.result = result
        self.by_sig: dict[tuple[str, int], list[clingo.Symbol]] = {}
        for a in atoms:
            self.by_sig.setdefault((a.name, len(a.arguments)), []).append(a)
        self.heads: dict[tuple[str, int], list[_Rule]] = {}
        for r in self.rules:
            self.heads.setdefault((r.head[1], len(r.head[2])), []).append(r)
        self.steps = 0

    # matching

    def matches(self, atom: Pattern, b: Binding) -> Iterator[Binding]:
        for s in self.by_sig.get((atom[1], len(atom[2])), []):
            b2 = _unify(atom, s, b)
            if b2 is not None:
                yield b2

    def aggregate(self, lit: _Lit, b: Binding) -> tuple[int, list[str]]:
        seen: set[tuple[clingo.Symbol, ...]] = set()
        shown: list[str] = []
        total = 0
        for terms, condition in lit.elements:
            for b2 in self.solve_all(condition, b):
                key = tuple(_ground(t, b2) for t in terms)
                if None in key or key in seen:
                    continue
                seen.add(key)  # type: ignore[arg-type]
                shown.append(", ".join(_show(c.atom, b2) for c in condition if c.kind == "pos"))
                if lit.function == "sum" and key and key[0] is not None and key[0].type == clingo.SymbolType.Number:
                    total += key[0].number
        return (len(seen) if lit.function == "count" else total), sorted(shown)

    def solve_all(self, lits: list[_Lit], b: Binding) -> Iterator[Binding]:
        if not lits:
            yield b
            return
        first, rest = lits[0], lits[1:]
        if first.kind == "pos":
            for b2 in self.matches(first.atom, b):
                yield from self.solve_all(rest, b2)
        elif first.kind == "cmp" and _compare(first, b):
            yield from self.solve_all(rest, b)

    def holds(self, lit: _Lit, b: Binding) -> tuple[bool, Binding, Any]:
        """Whether a non-positive literal holds under b (binding an aggregate's result); with its detail."""
        if lit.kind == "neg":
            blockers = [_ground(lit.atom, b2) for b2 in self.matches(lit.atom, b)]
            return (not blockers, b, blockers)
        if lit.kind == "cmp":
            return (_compare(lit, b), b, None)
        value, members = self.aggregate(lit, b)
        guard = _ground(lit.left, b)
        if guard is None and isinstance(lit.left, Var) and lit.op == "=":
            b2 = dict(b)
            b2[lit.left.name] = clingo.Number(value)
            return (True, b2, (value, members))
        ok = guard is not None and _compare_values(guard, lit.op, clingo.Number(value))
        return (ok, b, (value, members))

    # explaining

    def explain(self, goal: Pattern, b: Binding, depth: int) -> list[RuleMiss]:
        """The rules that could conclude ``goal`` and where each stopped; rules that no encounter
        could complete (they stop at missing reference data) are left out."""
        out: list[RuleMiss] = []
        for rule in self.heads.get((goal[1], len(goal[2])), []):
            head_b = _unify_patterns(rule.head, goal, b)
            if head_b is None:
                continue
            out.extend(m for m in self.explain_rule(rule, head_b, depth) if _possible(m))
        return out

    def explain_rule(self, rule: _Rule, b: Binding, depth: int) -> list[RuleMiss]:
        failures: list[tuple[int, list[str], _Lit, Binding, Any]] = []
        best = [0]

        def order(pending: list[_Lit], bound: Binding) -> _Lit | None:
            positives_left = any(lit.kind == "pos" for lit in pending)
            ready = [
                lit for lit in pending
                if (lit.kind in ("neg", "cmp") and lit.variables() <= set(bound))
                or (lit.kind == "agg" and not positives_left)
            ]
            if ready:
                return ready[0]
            positives = [lit for lit in pending if lit.kind == "pos"]
            if not positives:
                return pending[0] if pending else None

            def score(lit: _Lit) -> tuple[int, int, int]:
                # fully bound literals first (a check), then the most bound arguments (the
                # encounter number not counted), reference data before derived atoms
                args = lit.atom[2]
                own = args[1:] if _has_k(lit.atom) else args
                bound_args = sum(1 for a in own if not (_vars(a) - set(bound)))
                derived = (lit.atom[1], len(args)) in self.heads
                return (1 if bound_args == len(own) else 0, bound_args, 0 if derived else 1)

            return max(positives, key=score)

        def dfs(pending: list[_Lit], bound: Binding, held: list[str]) -> None:
            self.steps += 1
            if self.steps > MAX_STEPS:
                return
            lit = order(pending, bound)
            if lit is None:
                return  # the whole body holds: not a failure
            rest = [x for x in pending if x is not lit]
            if lit.kind == "pos":
                found = False
                for b2 in self.matches(lit.atom, bound):
                    found = True
                    dfs(rest, b2, [*held, _show(lit.atom, b2)])
                if not found:
                    failures.append((len(held), held, lit, bound, None))
                    best[0] = max(best[0], len(held))
                return
            ok, b2, detail = self.holds(lit, bound)
            if ok:
                text = _show(lit.left, b2) + f" = #{lit.function}" if lit.kind == "agg" else _lit_text(lit, b2)
                dfs(rest, b2, [*held, text])
            else:
                failures.append((len(held), held, lit, bound, detail))
                best[0] = max(best[0], len(held))

        dfs(list(rule.body), dict(b), [])
        top = [f for f in failures if f[0] == best[0]]
        misses: list[RuleMiss] = []
        seen: set[str] = set()
        src = self.engine.vocab.rules.get(rule.rule_id or "")
        source = f"{src.document}, {src.section} ({src.edition})" if src else "a helper rule of the knowledge base"
        evidence = self.engine.vocab.evidence_labels.get(src.evidence, src.evidence) if src else ""
        for _, held, lit, bound, detail in top:
            cond = self.condition(lit, bound, detail, depth)
            key = cond.needed + "|" + "|".join(held)
            if key in seen:
                continue
            seen.add(key)
            misses.append(RuleMiss(rule.rule_id, source, evidence, _show(rule.head, bound), [h for h in held if h], cond))
            if len(misses) >= MAX_FAILURES_PER_RULE:
                break
        return misses

    def condition(self, lit: _Lit, b: Binding, detail: Any, depth: int) -> Condition:
        if lit.kind == "pos":
            needed = _show(lit.atom, b)
            sig = (lit.atom[1], len(lit.atom[2]))
            found = [_strip_k(s, lit.atom) for s in self.by_sig.get(sig, [])][:8]
            reference = False
            if lit.atom[1].startswith("enc_") or lit.atom[1] == "switch":
                text = f"the encounter has no {needed}"
            elif sig in self.heads:
                text = f"{needed} does not hold"
            else:
                text = f"the reference data have no {needed}"
                reference = True
            searched = sig in self.heads and depth > 0
            because = self.explain(lit.atom, b, depth - 1) if searched else []
            return Condition("missing", needed, text, found, because, reference, searched)
        if lit.kind == "neg":
            needed = "not " + _show(lit.atom, b)
            blockers = [_strip_k(s, lit.atom) for s in detail]
            rules = sorted({d.rule for d in self.result.derivations if str(d.head) in blockers})
            via = f" (concluded by {', '.join(rules)})" if rules else ""
            text = f"blocked: {', '.join(blockers)} holds{via}"
            return Condition("blocked", needed, text, blockers)
        if lit.kind == "cmp":
            text = f"{_lit_text(lit, b)} is false"
            names = sorted(lit.variables())
            values = [f"{n} = {b[n]}" for n in names if n in b and n != ENCOUNTER_VAR]
            return Condition("comparison", _lit_text(lit, b), text, values)
        value, members = detail
        needed = f"{_show(lit.left, b)} {lit.op} #{lit.function}"
        counted = " and ".join(
            _show(c.atom, {}).split("(")[0] for _, cond in lit.elements for c in cond if c.kind == "pos"
        )
        if lit.op == "=":
            text = f"the {lit.function} of {counted} is {value}, not {_show(lit.left, b)}"
        else:
            text = f"the {lit.function} of {counted} is {value}, and {_show(lit.left, b)} {lit.op} {value} is false"
        because: list[RuleMiss] = []
        if depth > 0:
            for _, condition in lit.elements:
                for c in condition:
                    if c.kind == "pos" and (c.atom[1], len(c.atom[2])) in self.heads:
                        because.extend(self.explain(c.atom, b, depth - 1))
        return Condition("count", needed, text, members, because)


def _possible(m: RuleMiss) -> bool:
    """Whether some encounter could complete the rule: not when it stops at missing reference data,
    nor at a derived atom that no rule could conclude."""
    c = m.failed
    if c.kind != "missing":
        return True
    if c.reference:
        return False
    return not (c.searched and not c.because)


def _has_k(atom: Pattern) -> bool:
    args = atom[2]
    return bool(args) and isinstance(args[0], Var) and args[0].name == ENCOUNTER_VAR


def _strip_k(s: clingo.Symbol, atom: Pattern) -> str:
    if _has_k(atom):
        args = s.arguments[1:]
        return f"{s.name}({','.join(str(a) for a in args)})" if args else s.name
    return str(s)


def _agg_binds(lit: _Lit) -> set[str]:
    if lit.kind == "agg" and isinstance(lit.left, Var) and lit.op == "=":
        return {lit.left.name}
    return set()


def _unify_patterns(head: Pattern, goal: Pattern, b: Binding) -> Binding | None:
    """Bind the rule head's variables to the goal's bound constants (goal variables stay free)."""
    if head[1] != goal[1] or len(head[2]) != len(goal[2]):
        return None
    out: Binding = {}
    for hp, gp in zip(head[2], goal[2], strict=True):
        g = _ground(gp, b)
        if g is None:
            continue
        out2 = _unify(hp, g, out)
        if out2 is None:
            return None
        out = out2
    return out


def _compare_values(x: clingo.Symbol, op: str, y: clingo.Symbol) -> bool:
    if op == "=":
        return x == y
    if op == "!=":
        return x != y
    if op == "<":
        return x < y
    if op == "<=":
        return x < y or x == y
    if op == ">":
        return y < x
    return y < x or x == y


def _compare(lit: _Lit, b: Binding) -> bool:
    x, y = _ground(lit.left, b), _ground(lit.right, b)
    if x is None or y is None:
        return False
    return _compare_values(x, lit.op, y)


def _lit_text(lit: _Lit, b: Binding) -> str:
    if lit.kind == "cmp":
        return f"{_show(lit.left, b)} {lit.op} {_show(lit.right, b)}"
    if lit.kind == "neg":
        return "not " + _show(lit.atom, b)
    return _show(lit.atom, b)


def why_not(engine: Engine, encounter: Any, code: str, switches: Mapping[str, bool] | None = None) -> WhyNot:
    """Why ``code`` is not in the encounter's valid code set (or, if it is, why it is)."""
    engine.require_code(code)
    enc = engine.validate(encounter, switches)
    result = engine.evaluate(encounter, switches, trace=True)
    if result.code(code) is not None:
        from cptkb.explain.text import render_code

        return WhyNot(code, True, result, [], render_code(result, engine.vocab, code))
    atoms = answer_set(engine, enc)
    explainer = _Explainer(engine, atoms, result)
    goal = ("f", "code", [clingo.Number(0), clingo.String(code), Var("_units")])
    misses = explainer.explain(goal, {ENCOUNTER_VAR: clingo.Number(0)}, MAX_DEPTH)
    return WhyNot(code, False, result, misses)


def answer_set(engine: Engine, enc: Any) -> list[clingo.Symbol]:
    """Every atom of the encounter's answer set (reference data, inputs, conclusions), encounter number 0,
    from the whole knowledge base (no rule selection, no guards) and the same input facts as an
    evaluation (the NCCI editions in force included)."""
    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], engine.program.whole_text())
    with ctl.backend() as backend:
        writer = FactWriter(backend)
        k = clingo.Number(0)
        writer.add(ENCOUNTER, [k])
        for name, args in enc.facts + engine._ncci_facts(enc):
            writer.add(name, [k, *args])
    ctl.ground([("base", [])])
    with ctl.solve(yield_=True) as handle:
        (atoms,) = [m.symbols(atoms=True) for m in handle]
    return atoms


__all__ = ["Condition", "RuleMiss", "WhyNot", "why_not"]
