"""Per-contractor data of the provider and medical-necessity layers, with planted rows.

The knowledge base ships no contractor's rows (no contractor's policy text or billing article list was
read, research note 4a, 4f, 4h); these tests plant synthetic rows in a copy of kb/ to show that a
contractor's data replaces the national default for that contractor's encounters only.
"""

from __future__ import annotations

from pathlib import Path

from cptkb.reasoner.engine import Engine
from test_verify import planted

ARM = [{"muscle": m, "side": "right"} for m in ("APB", "FDI", "EDC", "biceps brachii", "deltoid")]


def rules_of(engine: Engine, enc: dict) -> list[tuple[str, str]]:
    return sorted((f["severity"], f["rule"]) for f in engine.evaluate(enc).to_dict()["findings"]
                  if f["rule"].startswith(("provider.", "necessity.")))


def test_contractor_rule_for_nurse_practitioners_replaces_the_national_one(tmp_path: Path) -> None:
    kb = planted(tmp_path, "provider.lp", 'contractor_npp("Novitas", nurse_practitioner, error, "synthetic test row").')
    engine = Engine(kb)
    enc = {"id": "np", "date_of_service": "2024-05-01", "diagnoses": ["G56.01"], "needle_emg": ARM,
           "provider": {"role": "nurse_practitioner"}, "payer": {"kind": "medicare", "mac": "Novitas"}}
    assert rules_of(engine, enc) == [("error", "provider.npp_contractor")]
    (msg,) = [f["message"] for f in engine.evaluate(enc).to_dict()["findings"] if f["rule"] == "provider.npp_contractor"]
    assert msg == "Needle EMG by a nurse practitioner: Novitas's rule applies (synthetic test row)."
    other = {**enc, "payer": {"kind": "medicare", "mac": "Palmetto"}}
    assert rules_of(engine, other) == [("warning", "provider.npp_emg")]


def test_contractor_diagnosis_list_replaces_the_national_one_from_its_date(tmp_path: Path) -> None:
    rows = ('necessity_list(novitas, "Novitas", "A54095 (synthetic test rows)", 20240101, 99991231).\n'
            'necessity_prefix(novitas, "G560").')
    engine = Engine(planted(tmp_path, "necessity.lp", rows))
    enc = {"id": "mn", "date_of_service": "2024-05-01", "diagnoses": ["M54.12"], "needle_emg": ARM,
           "payer": {"kind": "medicare", "mac": "Novitas"}}
    assert rules_of(engine, enc) == [("warning", "necessity.no_support")]
    (msg,) = [f["message"] for f in engine.evaluate(enc).to_dict()["findings"] if f["rule"] == "necessity.no_support"]
    assert "(A54095 (synthetic test rows))" in msg and "(M5412)" in msg
    assert rules_of(engine, {**enc, "diagnoses": ["G56.01"]}) == []
    assert rules_of(engine, {**enc, "date_of_service": "2023-12-31"}) == []  # before the list: the national list
    assert rules_of(engine, {**enc, "payer": {"kind": "medicare", "mac": "CGS"}}) == []
