"""The house stays as ARCHITECTURE.md draws it: no import circle between files or folders, no
import from a lower layer to a higher one, every file on a layer (tools/imports.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_circle_and_no_arrow_running_up():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "imports.py"), "--check"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "file circles: 0" in r.stdout and "upward arrows: 0" in r.stdout
