"""A wheel built from the source tree, installed with plain pip in a fresh virtual environment,
carries every .lp, data file and template, and evaluates an encounter."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_and_evaluates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("cptkb-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for path in sorted((ROOT / "kb").rglob("*.lp")):
        assert "cptkb/kb/" + path.relative_to(ROOT / "kb").as_posix() in names, path
    for path in sorted((ROOT / "explain" / "templates").rglob("*.j2")):
        assert "cptkb/explain/" + path.relative_to(ROOT / "explain").as_posix() in names, path
    assert not any(n.startswith(("kb/", "reasoner/", "explain/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    proc = subprocess.run(
        [str(env_dir / "bin" / "cptkb"), "evaluate", str(ROOT / "examples" / "encounter.json")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    data = json.loads(proc.stdout)
    assert [c["code"] for c in data["codes"]] == ["95872", "95908", "95937", "95885", "95887"]
    text = subprocess.run(
        [str(env_dir / "bin" / "cptkb"), "evaluate", str(ROOT / "examples" / "encounter.json"), "--format", "text"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert "Why 95908 x1" in text
    assert "In short: 3 nerve conduction studies" in text
    what_if = subprocess.run(
        [str(env_dir / "bin" / "cptkb"), "what-if", "95886", str(ROOT / "examples" / "encounter.json")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert what_if.startswith("95886 becomes valid for enc-001 with 3 changes (the fewest possible")
