"""The store layer stays free of Textual, torch, transformers and the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_store_imports_stay_light() -> None:
    script = (
        "import json, sys, termchat.store; "
        "print(json.dumps(sorted(name for name in sys.modules "
        "if name.split('.')[0] in ('torch', 'transformers', 'textual') or name.startswith('termchat.engine'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
    )

    assert json.loads(result.stdout) == []
