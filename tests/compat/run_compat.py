"""Run Metaflow's core test suite against grange: ``python tests/compat/run_compat.py --help``.

See docs/compat.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mfcompat.cli import main

if __name__ == "__main__":
    sys.exit(main())
