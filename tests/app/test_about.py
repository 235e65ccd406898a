"""app.about: what `tablescribe --version` and Help > About report."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from app import about

ROOT = Path(__file__).resolve().parents[2]


def test_version_comes_from_the_package_metadata():
    assert about.version() == importlib.metadata.version("tablescribe")


def test_a_checkout_that_is_not_installed_reads_its_pyproject(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert about.version() == f"{declared['project']['version']} (source tree)"


def test_card_title_skips_front_matter(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("---\ntitle: not this\n---\n\n# The title\n## Not this\n", encoding="utf-8")
    assert about.card_title(card) == "The title"
    card.write_text("no heading at all\n", encoding="utf-8")
    assert about.card_title(card) == tmp_path.name


def test_describe_says_why_a_model_has_no_card(tmp_path):
    found = about.describe(str(tmp_path / "nowhere"), "cpu")
    assert found.card is None and found.device == "cpu"
    assert found.model_title.startswith("not available:") and "nowhere" in found.model_title
