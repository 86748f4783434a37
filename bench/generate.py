"""Realistic encounters for benchmarks, from a fixed seed: contract v1, every rule family.

    python bench/generate.py N [--seed S] [--recent DAYS] [-o FILE]     (JSON Lines; FILE.gz is compressed)

The mix follows what an electrodiagnostic laboratory sees: mostly one or two
limbs studied with needle EMG and nerve conduction the same day, then EMG
alone (complete and limited limbs, up to four limbs), nerve conduction alone
(F-waves, H-reflexes, sensory, mixed and branch studies), paraspinal muscles
with and without their limb, cranial, laryngeal, diaphragm, sphincter and
trunk-wall muscles, repetitive stimulation, single-fiber EMG, electrode-array
studies, 2012 dates (the per-nerve codes), facility settings (modifier 26),
and claims to review, right and wrong. Names are drawn from the installed
knowledge base's own vocabulary, so every encounter is valid.

Dates of service are spread over 2012-2026 (6% in 2012), so that every
edition of the code set is met; with ``--recent DAYS`` they fall instead in
the DAYS days up to 2026-10-31, as in a stream of claims, which are filed
within weeks or months of the service.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

from cptkb.reasoner.engine import default_engine

SIDES = ("left", "right")
DIAGNOSES = ("G56.01", "G56.02", "G56.21", "M54.12", "M54.16", "M54.17", "G62.9", "E11.42", "G61.0", "G70.00", "R20.2", "G57.31")
FACILITY = ("19", "21", "22", "23")
MACS = ("Novitas", "Palmetto", "NGS", "Noridian", "WPS", "CGS", "FCSO")


class Vocabulary:
    """Muscle and nerve names by region, sorted, from the knowledge base."""

    def __init__(self) -> None:
        vocab = default_engine().vocab
        by_region: dict[str, list[str]] = {}
        for m in sorted(vocab.muscles.values(), key=lambda m: m.ident):
            by_region.setdefault(m.region, []).append(m.name)
        self.muscles = by_region
        nerves: dict[str, list[str]] = {}
        for n in sorted(vocab.nerves.values(), key=lambda n: n.ident):
            nerves.setdefault(n.region, []).append(n.name)
        self.nerves = nerves


# the last day of service of a stream of recent claims (generate's ``recent``)
RECENT_END = datetime.date(2026, 10, 31)


def _recent_date(rng: random.Random, days: int) -> str:
    return (RECENT_END - datetime.timedelta(days=rng.randrange(days))).isoformat()


def _date(rng: random.Random) -> str:
    year = 2012 if rng.random() < 0.06 else rng.randint(2013, 2026)
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _limb_muscles(rng: random.Random, v: Vocabulary, region: str, side: str, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"muscle": m, "side": side} for m in rng.sample(v.muscles[region], count)]
    if rng.random() < 0.04:  # the examiner's own innervation for one muscle
        out[0]["nerve"] = rng.choice(v.nerves[region])
        out[0]["roots"] = ["C7", "C8"] if region == "upper_limb" else ["L5", "S1"]
    if rng.random() < 0.03:  # a muscle the knowledge base does not list
        roots = ["C6", "C7"] if region == "upper_limb" else ["L4", "L5"]
        out.append({"muscle": "accessory slip", "side": side, "region": region, "nerve": rng.choice(v.nerves[region]), "roots": roots})
    return out


def _paraspinal(rng: random.Random, region: str, side: str) -> dict[str, Any]:
    if region == "upper_limb":
        return {"muscle": "cervical paraspinal", "side": side, "level": rng.choice(("C5", "C6", "C7", "C8"))}
    return {"muscle": "lumbar paraspinal", "side": side, "level": rng.choice(("L3", "L4", "L5", "S1"))}


def _studies(rng: random.Random, v: Vocabulary, region: str, side: str, count: int) -> list[dict[str, Any]]:
    out = []
    for nerve in rng.sample(v.nerves[region], min(count, len(v.nerves[region]))):
        kind = rng.choice(("motor", "motor", "sensory", "sensory", "mixed"))
        study: dict[str, Any] = {"nerve": nerve, "side": side, "study": kind}
        if kind == "motor" and rng.random() < 0.5:
            study["f_wave"] = True
        out.append(study)
        if kind == "motor" and rng.random() < 0.2:  # a second site of the same study
            out.append(dict(study))
    if region == "lower_limb" and rng.random() < 0.3:
        out.append({"nerve": "tibial", "side": side, "study": "h_reflex"})
    if region == "upper_limb" and rng.random() < 0.05:
        out.append({"nerve": "median", "side": side, "study": "h_reflex"})
    if rng.random() < 0.05:
        out.append({"nerve": "radial" if region == "upper_limb" else "peroneal", "side": side, "study": "motor", "branch": "proximal"})
    return out


def _limbs(rng: random.Random, n: int) -> list[tuple[str, str]]:
    every = [(r, s) for r in ("upper_limb", "lower_limb") for s in SIDES]
    return rng.sample(every, n)


def encounter(rng: random.Random, v: Vocabulary, number: int, recent: int = 0) -> dict[str, Any]:
    date = _recent_date(rng, recent) if recent else _date(rng)
    enc: dict[str, Any] = {"id": f"gen-{number:07d}", "date_of_service": date}
    enc["place_of_service"] = rng.choice(FACILITY) if rng.random() < 0.2 else rng.choice(("11", "11", "11", "49"))
    if rng.random() < 0.7:
        enc["payer"] = {"kind": "medicare", "mac": rng.choice(MACS)}
    else:
        enc["payer"] = {"kind": rng.choice(("commercial", "medicaid", "other"))}
    enc["provider"] = {"role": "physician", "specialty": rng.choice(("neurology", "physical_medicine"))}
    enc["diagnoses"] = rng.sample(DIAGNOSES, rng.randint(1, 3))
    emg: list[dict[str, Any]] = []
    ncs: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    kind = rng.random()
    if kind < 0.45:  # EMG and nerve conduction the same day, one or two limbs
        for region, side in _limbs(rng, rng.choice((1, 1, 1, 2))):
            emg += _limb_muscles(rng, v, region, side, rng.randint(3, 9))
            if rng.random() < 0.4:
                emg.append(_paraspinal(rng, region, side))
            ncs += _studies(rng, v, region, side, rng.randint(2, 5))
    elif kind < 0.60:  # EMG alone, up to four limbs, complete or limited
        for region, side in _limbs(rng, rng.randint(1, 4)):
            emg += _limb_muscles(rng, v, region, side, rng.randint(2, 8))
            if rng.random() < 0.3:
                emg.append(_paraspinal(rng, region, side))
    elif kind < 0.75:  # nerve conduction alone
        for region, side in _limbs(rng, rng.randint(1, 3)):
            ncs += _studies(rng, v, region, side, rng.randint(1, 5))
    elif kind < 0.82:  # cranial muscles, one or both sides, with or without facial conduction
        sides = rng.sample(SIDES, rng.randint(1, 2))
        for side in sides:
            emg += [{"muscle": m, "side": side} for m in rng.sample(v.muscles["cranial"], rng.randint(2, 5))]
        if rng.random() < 0.5:
            ncs += [{"nerve": "facial", "side": s, "study": "motor"} for s in sides]
    elif kind < 0.90:  # non-limb sites
        site = rng.choice(("larynx", "diaphragm", "sphincter", "abdominal_wall", "chest_wall", "thoracic_paraspinal", "paraspinal"))
        if site == "paraspinal":  # cervical or lumbar paraspinal muscles without their limb
            emg.append(_paraspinal(rng, rng.choice(("upper_limb", "lower_limb")), rng.choice(SIDES)))
        elif site == "thoracic_paraspinal":
            emg += [{"muscle": "thoracic paraspinal", "side": rng.choice(SIDES), "level": f"T{t}"} for t in rng.sample(range(2, 12), 3)]
        elif site == "diaphragm":
            emg += [{"muscle": "diaphragm", "side": s} for s in rng.sample(SIDES, rng.randint(1, 2))]
            if rng.random() < 0.5:
                ncs.append({"nerve": "phrenic", "side": "right", "study": "motor"})
        else:
            emg += [{"muscle": m, "side": rng.choice(SIDES)} for m in rng.sample(v.muscles[site], min(2, len(v.muscles[site])))]
        if rng.random() < 0.5:  # with a limb
            region, side = _limbs(rng, 1)[0]
            emg += _limb_muscles(rng, v, region, side, rng.randint(4, 7))
    else:  # neuromuscular junction and array studies
        test = rng.choice(("repetitive_stimulation", "single_fiber_emg", "electrode_array_ncs"))
        if test == "repetitive_stimulation":
            other += [{"test": test, "nerve": n, "side": rng.choice(SIDES)} for n in rng.sample(("ulnar", "median", "spinal accessory", "facial"), rng.randint(1, 3))]
        elif test == "single_fiber_emg":
            other += [{"test": test, "muscle": m, "side": rng.choice(SIDES)} for m in rng.sample(("frontalis", "extensor digitorum communis", "orbicularis oculi"), rng.randint(1, 2))]
        else:
            other += [{"test": test, "limb": limb} for limb in rng.sample(("left_upper", "right_upper", "left_lower", "right_lower"), rng.randint(1, 2))]
        if rng.random() < 0.5:
            region, side = _limbs(rng, 1)[0]
            ncs += _studies(rng, v, region, side, rng.randint(2, 4))
    if emg:
        enc["needle_emg"] = emg
    if ncs:
        enc["nerve_conduction"] = ncs
    if other:
        enc["other_tests"] = other
    if rng.random() < 0.15:
        claim_code = rng.choice(("95886", "95885", "95861", "95860", "95909", "95910", "95870", "95887", "95913"))
        enc["claim"] = [{"code": claim_code, "units": rng.randint(1, 2), "modifiers": []}]
        if rng.random() < 0.2:  # the same code twice
            enc["claim"].append({"code": claim_code, "units": 1, "modifiers": []})
    return enc


def generate(count: int, seed: int = 20261127, recent: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` encounters from ``seed``: the same seed gives the same encounters. With ``recent``,
    their dates of service fall in the ``recent`` days up to :data:`RECENT_END`."""
    rng = random.Random(seed)
    v = Vocabulary()
    for i in range(count):
        yield encounter(rng, v, i, recent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--recent", type=int, default=0, metavar="DAYS", help="dates of service in the DAYS days up to 2026-10-31")
    parser.add_argument("-o", "--output", help="a file (.gz: compressed); default standard output")
    args = parser.parse_args()
    if args.recent < 0:
        parser.error(f"--recent: {args.recent} is not a number of days (0 or more)")
    if args.output:
        opener = gzip.open if args.output.endswith(".gz") else open
        out = opener(args.output, "wt", encoding="utf-8")
    else:
        out = sys.stdout
    for enc in generate(args.count, args.seed, args.recent):
        out.write(json.dumps(enc, separators=(",", ":")) + "\n")
    if args.output:
        out.close()


if __name__ == "__main__":
    main()
