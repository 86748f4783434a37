"""cptkb impact: the encounters of a corpus whose codes or findings change between two knowledge bases.

Source: the facility places of service of kb/data/settings.lp (research note section 5, modifier 26).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cptkb.kb import KB_DIR
from test_cli import run

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).resolve().parent.parent


def test_removing_a_facility_changes_its_encounters(tmp_path: Path) -> None:
    """Without place of service 22 among the facilities, the corpus's POS-22 encounters lose modifier 26;
    impact lists each, grouped under the rules that no longer fire."""
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    settings = kb / "data" / "settings.lp"
    settings.write_text(settings.read_text().replace('facility_pos("22").', ""))
    code, out, err = run(["impact", "--before", str(KB_DIR), "--after", str(kb), str(CASES), "--format", "json"])
    assert code == 0, err
    report = json.loads(out)
    pos22 = set()
    for f in CASES.glob("*.json"):
        for case in json.loads(f.read_text())["cases"]:
            enc = case["encounter"]
            if enc.get("place_of_service") == "22" and "error" not in case["expect"]:
                pos22.add(enc["id"])
    group = report["by_rule"]["mod.26_facility"]
    assert group["citation"].startswith("AAPC Neurology Coding Alert")
    changed = {e["id"] for e in group["encounters"]}
    assert changed and changed <= pos22
    for e in group["encounters"]:
        assert any("-26" in c for c in e["codes_before"]) and not any("-26" in c for c in e["codes_after"])
    assert report["changed"] == len({e["id"] for g in report["by_rule"].values() for e in g["encounters"]})


def test_same_knowledge_base_at_a_git_revision_changes_nothing() -> None:
    """--before HEAD reads kb/ from git; against the same files nothing changes."""
    code, out, err = run(["impact", "--before", "HEAD", str(CASES / "ncs_counting.json")])
    if code == 2 and "git" in err:  # not a git checkout (an unpacked source tree)
        return
    assert code == 0, err
    import subprocess

    clean = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "kb"], check=False).returncode == 0
    if clean:  # kb/ as committed is kb/ as installed
        assert out.splitlines()[0].endswith("encounters whose codes or findings changed: 0")


def test_unknown_revision_is_refused() -> None:
    code, out, err = run(["impact", "--before", "no-such-revision", str(CASES / "ncs_counting.json")])
    assert code == 2 and out == "" and "--before" in err and "no-such-revision" in err
