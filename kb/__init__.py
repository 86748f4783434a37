"""The cptkb knowledge base: clingo rule files (rules/) and dated reference data (data/).

``main.lp`` is the entry file; it only includes the others.
"""

from pathlib import Path

KB_DIR = Path(__file__).resolve().parent
ENTRY = KB_DIR / "main.lp"
