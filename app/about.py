"""What is running: the tablescribe version, the recognition model and its card, the
engine device. Used by ``tablescribe --version`` and the GUI's Help menu; no Qt here."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CARD_NAMES = ("README.md", "MODEL_CARD.md", "model_card.md")
EMBEDDED = "tablescribe-cells (embedded)"


def version() -> str:
    """From the installed package's metadata; in a checkout that is not installed,
    from its pyproject.toml."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("tablescribe")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
            return f"{tomllib.loads(text)['project']['version']} (source tree)"
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown (not installed)"


def model_folder(model: str | None) -> Path:
    """The folder of ``model`` (None: the embedded default); ValueError names the problem."""
    if model is None:
        from ocr.recognizer import DEFAULT_MODEL_DIR

        return Path(DEFAULT_MODEL_DIR)
    from ocr.hub import resolve_model

    try:
        return resolve_model(model)
    except Exception as exc:  # noqa: BLE001 - any reason it is not on disk is the answer
        raise ValueError(str(exc)) from None


def model_card(folder: Path) -> Path | None:
    """The model card in ``folder`` (README.md as on the Hugging Face Hub), if any."""
    for name in CARD_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def card_title(card: Path) -> str:
    """The card's first heading; front matter (--- ... ---) is skipped."""
    in_front_matter = False
    for i, line in enumerate(card.read_text(encoding="utf-8").splitlines()):
        if line.strip() == "---" and (i == 0 or in_front_matter):
            in_front_matter = not in_front_matter
            continue
        if not in_front_matter and line.startswith("# "):
            return line[2:].strip()
    return card.parent.name


def engine_device(device: str | None) -> str:
    """The device the engine runs the model on for the ``device`` setting (None: auto),
    chosen as app.recognizers.load_recognizer chooses it."""
    try:
        from engine.device import Device

        dev = Device.best() if device in (None, "", "auto") else Device.parse(device)
    except (ImportError, ValueError, RuntimeError) as exc:
        return f"unavailable ({exc})"
    return str(dev)


@dataclass(frozen=True)
class About:
    version: str
    model: str          # the model setting: a folder, a hub id or the embedded default
    model_title: str    # the card's title, or why there is none
    card: Path | None
    device: str


def describe(model: str | None, device: str | None) -> About:
    try:
        folder = model_folder(model)
    except (ImportError, ValueError) as exc:
        title, card = f"not available: {exc}", None
    else:
        card = model_card(folder)
        title = card_title(card) if card is not None else f"no model card in {folder}"
    return About(version=version(), model=model or EMBEDDED, model_title=title, card=card,
                 device=engine_device(device))
