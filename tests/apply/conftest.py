from __future__ import annotations

import sys
from pathlib import Path

# The fault kit lives beside the client tests; the apply tests use the same one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))
