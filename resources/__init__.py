"""tablescribe's data files, installed as package data: the embedded model(s), the
sample scans, the icons and the .desktop entry.

Code finds them here, through ``importlib.resources``, never through a path relative
to the source tree, so a wheel, ``pipx install`` and a PyInstaller bundle find them
just as a checkout does. ocr/ and table/ may read resources (the layer below app/).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["DESKTOP_FILE", "ICONS", "MODELS", "SAMPLES", "path"]

MODELS = "models"
SAMPLES = "samples"
ICONS = "icons"
DESKTOP_FILE = "tablescribe.desktop"

_EXTRACTED: dict[str, Path] = {}


def path(*parts: str) -> Path:
    """A file-system path to a resource (``path("models", "tablescribe-cells")``).

    Installed from a wheel or a checkout, the package is a folder and this is a plain
    path into it. Imported from a zip archive, the resource is copied once into a
    temporary folder, removed at exit (model weights are memory-mapped: they need a file).
    """
    node: Traversable = files(__name__).joinpath(*parts)
    if isinstance(node, Path):
        return node
    key = "/".join(parts)
    if key not in _EXTRACTED:
        root = Path(tempfile.mkdtemp(prefix="tablescribe-resources-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _EXTRACTED[key] = _copy(node, root / parts[-1])
    return _EXTRACTED[key]


def _copy(node: Traversable, target: Path) -> Path:
    if node.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for child in node.iterdir():
            _copy(child, target / child.name)
    elif node.is_file():
        with as_file(node) as real:
            shutil.copyfile(real, target)
    else:
        raise FileNotFoundError(f"tablescribe resource {target.name!r} is not installed")
    return target
