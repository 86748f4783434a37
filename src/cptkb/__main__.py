"""python -m cptkb: the cptkb command."""

from cptkb.reasoner.cli import main

raise SystemExit(main())
