"""Font families and splits of the table page generator: held-out families never reach
training, decided by family (every weight, width and clone of a design together)."""

import pytest

from training.tables import design, fonts
from training.tables.design import design_page
from training.tables.fonts import discover_faces, faces_for, family_of, split_of


@pytest.mark.parametrize("a, b", [
    ("DejaVu Sans", "DejaVu Sans Mono"),
    ("DejaVu Sans", "DejaVu Serif Bold"),
    ("DejaVu Sans", "DejaVu Sans Condensed"),
    ("Liberation Sans", "Arimo"),
    ("Liberation Serif", "Tinos Bold"),
    ("Liberation Mono", "Cousine"),
    ("Linux Libertine O", "Linux Biolinum O"),
    ("Linux Libertine O", "Linux Libertine Mono O"),
])
def test_one_family_one_split(a, b):
    assert family_of(a) == family_of(b)
    assert split_of(a) == split_of(b)


def test_every_installed_file_of_a_family_has_its_split():
    by_family: dict[str, set[str]] = {}
    for face in discover_faces():
        for path in (face.regular, face.bold):
            by_family.setdefault(family_of(path), set()).add(split_of(path))
    assert by_family, "no fonts found"
    assert all(len(splits) == 1 for splits in by_family.values()), by_family


def test_each_split_has_fonts_and_no_family_is_shared():
    families = {s: {f.family for f in faces_for(s)} for s in fonts.SPLITS}
    assert all(families.values()), families
    assert not families["train"] & families["heldout"]
    assert not families["train"] & families["validation"]
    assert not families["validation"] & families["heldout"]
    assert {"Linux Libertine", "Liberation Mono"} <= families["heldout"]


def _drawn_families(split: str, n: int) -> tuple[set[str], set[str]]:
    """Families of the font files the pages of a split would draw with, and their
    layout families."""
    fams, layouts = set(), set()
    for k in range(n):
        for t in design_page(split, 0, k).tables:
            fams |= {family_of(t.face.regular), family_of(t.face.bold)}
            layouts.add(t.layout)
    return fams, layouts


def test_heldout_families_and_layouts_never_reach_training():
    fams, layouts = _drawn_families("train", 300)
    assert fams and all(split_of(f) == "train" for f in fams), fams
    assert not {f for f in fams if split_of(f) != "train"}
    assert all(design.layout_split(x) == "train" for x in layouts), layouts
    # and the held-out pages do use what training never sees
    held_fams, held_layouts = _drawn_families("heldout", 300)
    assert held_fams and not held_fams & fams
    assert {x for x in held_layouts if design.layout_split(x) == "heldout"}


def test_seed_spaces_of_splits_are_disjoint():
    train = design_page("train", 0, 3)
    held = design_page("heldout", 0, 3)
    assert [t.texts for t in train.tables] != [t.texts for t in held.tables]


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        design_page("test", 0, 0)
    with pytest.raises(ValueError, match="split"):
        faces_for("dev")
