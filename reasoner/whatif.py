"""What it would take: the fewest changes to an encounter after which a code is valid; and the
difference between two evaluations.

The search is answer-set optimisation over a bounded space of edits written as
knowledge-base rules (kb/whatif/edits.lp): every encounter rule of the
knowledge base is grounded once with the encounter as it is (``was/1`` facts)
and choices to remove its entries, add candidate entries, switch F-waves and
change the place of service; a constraint asks for the code and a
``#minimize`` counts the edits. clingo returns an optimal set of edits and
proves it minimal within the space (or says it could not within the time
limit). The changed encounter is then evaluated as any other, and
:func:`diff` compares the two results: codes, findings, claim review and the
rules in the trace.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

import clingo

from .engine import Engine, _clingo_logger
from .errors import KnowledgeBaseFault
from .loader import ENCOUNTER, KnowledgeBaseError
from .result import CodeLine, Finding, Result


@dataclass(frozen=True)
class Edit:
    """One change to the encounter: ``action`` (add, remove, change), the contract field, and words."""

    action: str
    field: str
    text: str
    entry: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "field": self.field, "text": self.text}
        if self.entry is not None:
            out["entry"] = self.entry
        return out


@dataclass
class Diff:
    """What changes from one evaluation to another."""

    codes_added: list[CodeLine] = field(default_factory=list)
    codes_removed: list[CodeLine] = field(default_factory=list)
    codes_changed: list[tuple[CodeLine, CodeLine]] = field(default_factory=list)
    findings_added: list[Finding] = field(default_factory=list)
    findings_removed: list[Finding] = field(default_factory=list)
    review_changed: list[tuple[int, str, str, str]] = field(default_factory=list)  # line, code, before, after
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (self.codes_added, self.codes_removed, self.codes_changed, self.findings_added, self.findings_removed,
             self.review_changed, self.rules_added, self.rules_removed)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "codes_added": [c.to_dict() for c in self.codes_added],
            "codes_removed": [c.to_dict() for c in self.codes_removed],
            "codes_changed": [{"before": a.to_dict(), "after": b.to_dict()} for a, b in self.codes_changed],
            "findings_added": [f.to_dict() for f in self.findings_added],
            "findings_removed": [f.to_dict() for f in self.findings_removed],
            "claim_review_changed": [
                {"line": n, "code": c, "before": a, "after": b} for n, c, a, b in self.review_changed
            ],
            "rules_added": self.rules_added,
            "rules_removed": self.rules_removed,
        }

    def to_text(self) -> str:
        if self.empty:
            return "no difference: the same codes, findings, claim review and rules\n"
        lines = []
        for c in self.codes_added:
            lines.append(f"+ code {_line(c)}")
        for c in self.codes_removed:
            lines.append(f"- code {_line(c)}")
        for a, b in self.codes_changed:
            lines.append(f"~ code {_line(a)} -> {_line(b)}")
        for f in self.findings_added:
            lines.append(f"+ {f.severity} {f.rule}: {f.message}")
        for f in self.findings_removed:
            lines.append(f"- {f.severity} {f.rule}: {f.message}")
        for n, code, a, b in self.review_changed:
            lines.append(f"~ claim line {n + 1} ({code}): {a} -> {b}")
        if self.rules_added:
            lines.append("+ rules applied: " + ", ".join(self.rules_added))
        if self.rules_removed:
            lines.append("- rules no longer applied: " + ", ".join(self.rules_removed))
        return "\n".join(lines) + "\n"


def _line(c: CodeLine) -> str:
    return f"{c.code} x{c.units}" + "".join(f" -{m}" for m in c.modifiers)


def diff(before: Result, after: Result) -> Diff:
    """The difference between two results (each from an evaluation with ``trace=True`` for the rules)."""
    out = Diff()
    a_codes = {c.code: c for c in before.codes}
    b_codes = {c.code: c for c in after.codes}
    out.codes_added = [b_codes[c] for c in b_codes if c not in a_codes]
    out.codes_removed = [a_codes[c] for c in a_codes if c not in b_codes]
    out.codes_changed = [(a_codes[c], b_codes[c]) for c in a_codes if c in b_codes and a_codes[c] != b_codes[c]]
    a_find = {(f.rule, f.message): f for f in before.findings}
    b_find = {(f.rule, f.message): f for f in after.findings}
    out.findings_added = [f for k, f in b_find.items() if k not in a_find]
    out.findings_removed = [f for k, f in a_find.items() if k not in b_find]
    if before.claim_review is not None and after.claim_review is not None:
        for ra, rb in zip(before.claim_review, after.claim_review, strict=False):
            if ra.status != rb.status:
                out.review_changed.append((ra.line, ra.code, ra.status, rb.status))
    a_rules = {d.rule for d in before.derivations}
    b_rules = {d.rule for d in after.derivations}
    out.rules_added = sorted(b_rules - a_rules)
    out.rules_removed = sorted(a_rules - b_rules)
    return out


@dataclass
class WhatIf:
    """The answer to "what would make CODE valid for this encounter?"."""

    code: str
    status: str  # "already" (valid as it is), "found", "not_found" (no change in the space does it), "undecided" (time limit)
    edits: list[Edit]
    optimal: bool  # the number of edits is proven minimal within the space
    encounter: dict[str, Any] | None  # the changed encounter (found), else None
    before: Result
    after: Result | None
    seconds: float = 0.0

    @property
    def diff(self) -> Diff | None:
        return None if self.after is None else diff(self.before, self.after)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "status": self.status}
        if self.status == "found":
            out["changes"] = len(self.edits)
            out["minimal"] = self.optimal
            out["edits"] = [e.to_dict() for e in self.edits]
            out["encounter"] = self.encounter
            d = self.diff
            assert d is not None
            out["difference"] = d.to_dict()
        return out

    def to_text(self) -> str:
        if self.status == "already":
            return f"{self.code} is already in the valid code set of {self.before.id}; nothing needs to change.\n"
        if self.status == "undecided":
            return f"The what-if search for {self.code} on {self.before.id} ran out of time before it found a change.\n"
        if self.status == "not_found":
            return (
                f"No change within the what-if space (kb/whatif/edits.lp) makes {self.code} valid for"
                f" {self.before.id}: the date of service, payer, provider, diagnoses and claim are kept as they are.\n"
            )
        n = len(self.edits)
        how = "the fewest possible within the what-if space" if self.optimal else "the fewest found before the time limit, not proven minimal"
        lines = [f"{self.code} becomes valid for {self.before.id} with {n} change{'s' if n != 1 else ''} ({how}):"]
        lines += [f"  {i}. {e.text}" for i, e in enumerate(self.edits, 1)]
        d = self.diff
        assert d is not None
        lines.append("What changes in the result:")
        lines += ["  " + line for line in d.to_text().splitlines()]
        return "\n".join(lines) + "\n"


def _was_facts(enc_facts: list[tuple[str, tuple[Any, ...]]]) -> list[clingo.Symbol]:
    return [clingo.Function("was", [clingo.Function(name, list(args))]) for name, args in enc_facts]


_FIELD = {"emg": "needle_emg", "ncs": "nerve_conduction", "rns": "other_tests", "sfemg": "other_tests", "array": "other_tests"}


def what_if(
    engine: Engine,
    encounter: Any,
    code: str,
    switches: Mapping[str, bool] | None = None,
    time_limit: float = 20.0,
) -> WhatIf:
    """The fewest changes to ``encounter`` after which ``code`` is in its valid code set."""
    started = time.perf_counter()
    engine.require_code(code)
    enc = engine.validate(encounter, switches)
    before = engine.evaluate(encounter, switches, trace=True)
    if before.code(code) is not None:
        return WhatIf(code, "already", [], True, None, before, None, time.perf_counter() - started)

    from .verify import _program_text  # the verifier's transformation: encounter atoms get the number 0

    edits_file = engine.kb_dir / "whatif" / "edits.lp"
    if not edits_file.is_file():
        raise KnowledgeBaseError(f"no what-if space at {edits_file}")
    program = engine.program
    space = _program_text([edits_file], program.dynamic)
    ctl = clingo.Control(["--warn=no-atom-undefined", "--opt-strategy=usc"], logger=_clingo_logger, message_limit=50)
    ctl.add("base", [], "\n".join([program.whole_text(), space, f"{ENCOUNTER}(0).", "switch(0, S) :- was(switch(S))."]))
    with ctl.backend() as backend:
        for sym in [*_was_facts(enc.facts), clingo.Function("whatif_goal", [clingo.String(code)])]:
            backend.add_rule([backend.add_atom(sym)])
    ctl.ground([("base", [])])
    ctl.configuration.solve.opt_mode = "opt"  # type: ignore[union-attr]
    best: list[list[clingo.Symbol]] = []

    def keep(model: clingo.Model) -> None:
        best.append(model.symbols(atoms=True))

    with ctl.solve(on_model=keep, async_=True) as handle:
        finished = handle.wait(time_limit)
        if not finished:
            handle.cancel()
        outcome = handle.get()
    optimal = bool(finished and outcome.exhausted)
    if not best:
        status = "not_found" if finished else "undecided"
        return WhatIf(code, status, [], optimal, None, before, None, time.perf_counter() - started)
    edits, changed = _read_edits(best[-1], encounter, engine)
    after = engine.evaluate(changed, switches, trace=True)
    if after.code(code) is None:
        raise KnowledgeBaseFault(f"the what-if search found edits for {code} that the evaluation does not confirm")
    return WhatIf(code, "found", edits, optimal, changed, before, after, time.perf_counter() - started)


def _s(sym: clingo.Symbol) -> str:
    return sym.string if sym.type == clingo.SymbolType.String else str(sym)


def _read_edits(atoms: list[clingo.Symbol], encounter: Mapping[str, Any], engine: Engine) -> tuple[list[Edit], dict[str, Any]]:
    """The edits an optimal model chose, in words, and the changed encounter."""
    v = engine.vocab
    changed = copy.deepcopy(dict(encounter))
    by: dict[str, list[tuple[clingo.Symbol, ...]]] = {}
    for a in atoms:
        by.setdefault(a.name, []).append(tuple(a.arguments))
    removed: list[Edit] = []
    added: list[Edit] = []
    changes: list[Edit] = []
    drop: dict[str, set[int]] = {"needle_emg": set(), "nerve_conduction": set(), "other_tests": set()}

    def describe(field_name: str, entry: Mapping[str, Any]) -> str:
        if field_name == "needle_emg":
            level = f" {entry['level']}" if entry.get("level") else ""
            return f"needle EMG of {entry['muscle']}{level}, {entry['side']}"
        if field_name == "nerve_conduction":
            fw = " with F-wave" if entry.get("f_wave") else ""
            branch = f" ({entry['branch']} branch)" if entry.get("branch") else ""
            return f"{entry['nerve']}{branch} {entry['study'].replace('_', '-')} conduction study{fw}, {entry['side']}"
        test = entry.get("test", "")
        if test == "electrode_array_ncs":
            return f"electrode-array nerve conduction of the {entry['limb'].replace('_', ' ')} limb"
        target = entry.get("nerve") or entry.get("muscle")
        return f"{test.replace('_', ' ')} of {target}, {entry.get('side', '')}"

    for args in sorted(by.get("whatif_remove", []), key=str):
        kind, index = _s(args[-2]), args[-1].number
        field_name = _FIELD[kind]
        drop[field_name].add(index)
        entry = encounter[field_name][index]
        removed.append(Edit("remove", f"{field_name}[{index}]", f"remove {field_name}[{index}]: {describe(field_name, entry)}", dict(entry)))
    fwave_on = {args[-1].number for args in by.get("whatif_fwave_on", []) if args[-1].type == clingo.SymbolType.Number}
    fwave_off = {args[-1].number for args in by.get("whatif_fwave_off", [])}
    for index in sorted(fwave_on | fwave_off):
        entry = changed["nerve_conduction"][index]
        on = index in fwave_on
        if on:
            entry["f_wave"] = True
        else:
            entry.pop("f_wave", None)
        what = "add an F-wave to" if on else "remove the F-wave from"
        changes.append(Edit("change", f"nerve_conduction[{index}].f_wave", f"{what} nerve_conduction[{index}]: {describe('nerve_conduction', encounter['nerve_conduction'][index])}"))
    levels = {str(args[1]): _s(args[2]) for args in by.get("enc_emg_level", []) if args[1].type == clingo.SymbolType.Function and args[1].name == "add"}
    new_emg = []
    for args in sorted(by.get("enc_emg", []), key=str):
        index, muscle, side = args[1], args[2], args[3]
        if index.type != clingo.SymbolType.Function or index.name != "add":
            continue
        entry: dict[str, Any] = {"muscle": v.muscles[str(muscle)].name, "side": str(side)}
        if str(index) in levels:
            entry["level"] = levels[str(index)].upper()
        new_emg.append(entry)
    added_fwave = {str(args[-1]) for args in by.get("whatif_fwave_on", []) if args[-1].type == clingo.SymbolType.Function}
    new_ncs = []
    for args in sorted(by.get("enc_ncs", []), key=str):
        index, nerve, side, study = args[1], args[2], args[3], args[4]
        if index.type != clingo.SymbolType.Function or index.name != "add":
            continue
        entry = {"nerve": v.nerves[str(nerve)].name, "side": str(side), "study": str(study)}
        if str(index) in added_fwave:
            entry["f_wave"] = True
        new_ncs.append(entry)
    new_other = []
    for name, test in (("enc_rns", "repetitive_stimulation"), ("enc_sfemg", "single_fiber_emg"), ("enc_array", "electrode_array_ncs")):
        for args in sorted(by.get(name, []), key=str):
            index = args[1]
            if index.type != clingo.SymbolType.Function or index.name != "add":
                continue
            if test == "electrode_array_ncs":
                new_other.append({"test": test, "limb": str(args[2])})
            elif test == "repetitive_stimulation":
                new_other.append({"test": test, "nerve": v.nerves[str(args[2])].name, "side": str(args[3])})
            else:
                new_other.append({"test": test, "muscle": v.muscles[str(args[2])].name, "side": str(args[3])})
    for field_name, entries in (("needle_emg", new_emg), ("nerve_conduction", new_ncs), ("other_tests", new_other)):
        kept = [e for i, e in enumerate(changed.get(field_name, [])) if i not in drop[field_name]]
        for e in entries:
            added.append(Edit("add", field_name, f"add {describe(field_name, e)}", e))
        if kept or entries:
            changed[field_name] = kept + entries
        else:
            changed.pop(field_name, None)
    pos_before = encounter.get("place_of_service", "11")
    for args in by.get("enc_pos", []):
        pos_after = _s(args[-1])
        if pos_after != pos_before:
            changed["place_of_service"] = pos_after
            changes.append(Edit("change", "place_of_service", f"change the place of service from {pos_before} to {pos_after}"))
    return removed + changes + added, changed


__all__ = ["Diff", "Edit", "WhatIf", "diff", "what_if"]
