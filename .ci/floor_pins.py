"""Print ``name==floor`` for each named dependency, read from pyproject.toml.

The floor is the version after ``>=`` in the dependency (or extra) that names the
package; a package without one is an error, so the floors job cannot silently test
nothing. Used by .ci/floors.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*([^;]*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def floors(pyproject: Path, names: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    found: dict[str, str] = {}
    for text in requirements:
        match = _REQ.match(text)
        if not match:
            continue
        floor = re.search(r">=\s*([0-9][^,\s]*)", match.group(2))
        if floor and _norm(match.group(1)) in {_norm(n) for n in names}:
            found.setdefault(_norm(match.group(1)), f"{match.group(1)}=={floor.group(1)}")
    missing = [n for n in names if _norm(n) not in found]
    if missing:
        raise SystemExit(f"floor_pins: no '>=' floor in pyproject.toml for {', '.join(missing)}")
    return [found[_norm(n)] for n in names]


if __name__ == "__main__":
    print(" ".join(floors(Path(__file__).resolve().parents[1] / "pyproject.toml", sys.argv[1:])))
