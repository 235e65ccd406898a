"""tablescribe's people-facing side: CLI, GUI, pipeline, batch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from app.warmup import configure_numba_cache

# Before anything imports numba: its kernel cache must be writable (app/warmup.py).
configure_numba_cache()

# tablescribe installs the top-level packages app, engine, ocr, table and resources.
# Names that plain are taken by other projects too; where two distributions share an
# environment, one overwrites or shadows the other (pip does not check). pipx (one
# environment per application) or the bundle avoid that; foreign_packages() says so.
OWN_PACKAGES = ("engine", "ocr", "table", "resources")


def foreign_packages() -> list[str]:
    """'name (path)' for each of our packages that is imported from somewhere other than
    where ``app`` is: another project's package of the same name came first."""
    if getattr(sys, "frozen", False):
        return []
    home = Path(__file__).resolve().parent.parent
    found = []
    for name in OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        where = Path(spec.origin).resolve().parent.parent if spec and spec.origin else None
        if where != home:
            found.append(f"{name} ({spec.origin if spec else 'missing'})")
    return found
