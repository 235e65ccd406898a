"""`tablescribe model tune` on the engine: bad input gets clear errors, a run writes a
complete model folder, and the base model is never modified."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from PIL import Image

from app.cli import main
from app.corrections import CorrectionStore
from app.tuning import Figures, TuneInputError, _recipe_words, _verdict, tune_model
from ocr import DEFAULT_MODEL_DIR


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(p.name.encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def corrections(tmp_path_factory):
    from training.cells import CellGenerator

    folder = tmp_path_factory.mktemp("corrections")
    store = CorrectionStore(folder)
    gen = CellGenerator(3, "heldout")
    i = 0
    while store.count() < 7:
        cell = gen.sample(i)
        i += 1
        if cell.text and "\n" not in cell.text:
            store.add(cell.image, cell.text)
    store.add(Image.new("L", (40, 20), 255), "naïve ☃ ok")  # ☃ is not in the vocabulary
    return folder


def test_a_run_writes_a_complete_model_folder_and_leaves_the_base(tmp_path, corrections):
    base = tmp_path / "base"
    shutil.copytree(DEFAULT_MODEL_DIR, base)
    before = _digest(base)
    out = tmp_path / "tuned"
    rc = main(["model", "tune", str(corrections), "-o", str(out), "--base", str(base),
               "--max-steps", "2", "--minutes", "5", "--device", "cpu", "--quiet",
               "--train", "decoder.*", "--train", "encoder.encoder.layer.{last}.*"])
    assert _digest(base) == before
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
            "generation_config.json", "README.md", "tuning.json"} <= names
    report = json.loads((out / "tuning.json").read_text())
    assert rc == (0 if report["adopted"] else 4)
    assert report["steps"] == 2 and report["corrections_used"] + report["corrections_judged"] == 7
    assert len(report["skipped"]) == 1 and "'☃'" in report["skipped"][0]
    card = (out / "README.md").read_text()
    assert "exact before" in card and ("adopted" in card or "NOT ADOPTED" in card)
    import engine
    from ocr.weights import WeightFile

    old, new = WeightFile(base), WeightFile(out)
    assert old.names() == new.names()
    name = "decoder.model.decoder.layers.2.fc2.weight"  # trained (decoder)
    assert new[name].dtype is old[name].dtype is engine.f16
    assert (new[name].numpy() != old[name].numpy()).any()
    top = "encoder.encoder.layer.3.output.dense.weight"  # trained ({last})
    assert (new[top].numpy() != old[top].numpy()).any()
    for frozen in ("encoder.embeddings.patch_embeddings.projection.weight",
                   "encoder.encoder.layer.2.output.dense.weight"):
        assert (new[frozen].numpy() == old[frozen].numpy()).all()
    # the base goes with it, unchanged, and reads first (ocr.base_reading)
    assert (out / "base" / "model.safetensors").read_bytes() == (base / "model.safetensors").read_bytes()
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["base_reading"] == {"folder": "base", "trust_above": 0.99}
    assert gen["second_look"] == json.loads((base / "generation_config.json").read_text())["second_look"]


def test_bad_input_is_a_clear_error(tmp_path, corrections, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TuneInputError, match="no labels.jsonl"):
        tune_model(empty, tmp_path / "o1")
    not_model = tmp_path / "notmodel"
    not_model.mkdir()
    (not_model / "config.json").write_text("{}")
    with pytest.raises(TuneInputError, match="not a TrOCR model folder"):
        tune_model(corrections, tmp_path / "o2", base=not_model)
    with pytest.raises(TuneInputError, match="must not be written inside its base"):
        tune_model(corrections, DEFAULT_MODEL_DIR / "sub", base=DEFAULT_MODEL_DIR)
    assert main(["model", "tune", str(empty), "-o", str(tmp_path / "o3"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no labels.jsonl" in err[0]


def test_too_few_usable_corrections(tmp_path):
    store = CorrectionStore(tmp_path / "few")
    for t in ("a☃", "b☃", "c"):
        store.add(Image.new("L", (30, 20), 255), t)
    with pytest.raises(TuneInputError, match=r"1 usable correction, at least 5 .*2 skipped.*'☃'"):
        tune_model(tmp_path / "few", tmp_path / "out")


def test_worse_runs_are_not_adopted():
    same = {"corrections": Figures(10, 0.5, 0.1), "general": Figures(100, 0.97, 0.01)}
    better = {"corrections": Figures(10, 0.9, 0.02), "general": Figures(100, 0.96, 0.01)}
    forgot = {"corrections": Figures(10, 1.0, 0.0), "general": Figures(100, 0.90, 0.05)}
    assert _verdict(same, better)[0]
    assert not _verdict(same, same)[0]
    ok, why = _verdict(same, forgot)
    assert not ok and "worse on other text" in why


def _examples(folder):
    from app.corrections import read_corrections
    from ocr.finetune import Example

    found = read_corrections(folder)
    return [Example(i, t) for i, t in zip(found.images, found.texts) if "☃" not in t]


def test_blend_and_anchor_move_between_the_base_and_the_trained_weights(corrections):
    import numpy as np

    from ocr import Recognizer
    from ocr.finetune import FineTuner, TuneSettings

    rec = Recognizer(second_look=False)
    settings = TuneSettings(trainable=("decoder.model.decoder.layers.2.fc2.*",), lr=1e-2,
                            batch=2, accumulate=1, max_steps=2, seed=1, blends=(0.5, 1.0),
                            ema=0.0)
    tuner = FineTuner(rec, settings)
    p = tuner.trainable[0][1]
    base = p.numpy().copy()
    tuner.run(_examples(corrections))
    trained = p.numpy().copy()
    assert not np.allclose(trained, base)
    tuner.blend(0.0)
    np.testing.assert_array_equal(p.numpy(), base)
    tuner.blend(0.5)
    np.testing.assert_allclose(p.numpy(), base + 0.5 * (trained - base), rtol=1e-6, atol=1e-7)
    tuner.blend(1.0)
    np.testing.assert_allclose(p.numpy(), trained, rtol=1e-6, atol=1e-7)
    # an anchor of 1 / lr pulls every step all the way back: the base weights stay
    rec = Recognizer(second_look=False)
    anchored = FineTuner(rec, TuneSettings(trainable=settings.trainable, lr=1e-2, batch=2,
                                           accumulate=1, max_steps=2, anchor=100.0,
                                           warmup=0.0, min_lr=1.0))
    anchored.run(_examples(corrections))
    np.testing.assert_allclose(anchored.trainable[0][1].numpy(), base, atol=1e-7)


def test_the_blend_is_chosen_on_the_kept_apart_corrections(tmp_path, corrections):
    report = tune_model(corrections, tmp_path / "out", max_steps=1, device="cpu",
                        trainable=["decoder.model.decoder.layers.2.*"],
                        recipe={"blends": [0.0, 1.0], "lr": 1e-3})
    assert report.blend in (0.0, 1.0)
    assert json.loads((tmp_path / "out" / "tuning.json").read_text())["blend"] == report.blend
    with pytest.raises(TuneInputError, match="unknown tuning setting 'nope'"):
        tune_model(corrections, tmp_path / "o2", recipe={"nope": 1})


def test_slow_parameters_learn_at_their_share_of_the_rate(corrections):
    import numpy as np

    from ocr import Recognizer
    from ocr.finetune import FineTuner, TuneSettings

    def moved(slow_lr):
        rec = Recognizer(second_look=False)
        tuner = FineTuner(rec, TuneSettings(
            trainable=("decoder.model.decoder.layers.2.fc2.weight",),
            slow=("decoder.model.decoder.layers.1.fc2.weight",), slow_lr=slow_lr, lr=1e-2,
            batch=2, accumulate=1, max_steps=2, seed=1, ema=0.0, blends=(1.0,)))
        named = dict(tuner.trainable)
        fast = named["decoder.model.decoder.layers.2.fc2.weight"]
        slow = named["decoder.model.decoder.layers.1.fc2.weight"]
        before = fast.numpy().copy(), slow.numpy().copy()
        tuner.run(_examples(corrections))
        return [float(np.abs(p.numpy() - b).max()) for p, b in zip((fast, slow), before)]

    fast, slow = moved(0.0)
    assert fast > 0 and slow == 0.0  # trained (it has a gradient), at a rate of nothing
    assert moved(1.0)[1] > 0


def test_the_default_recipe_jitters_and_splices_the_corrections(corrections, monkeypatch):
    import ocr.finetune as ft
    from ocr import Recognizer

    seen = {"splice": 0, "strength": set()}
    splice, jitter = ft.splice, ft.jitter

    def counting_splice(*args, **kw):
        seen["splice"] += 1
        return splice(*args, **kw)

    def recording_jitter(img, rng, strength):
        seen["strength"].add(strength)
        return jitter(img, rng, strength)

    monkeypatch.setattr(ft, "splice", counting_splice)
    monkeypatch.setattr(ft, "jitter", recording_jitter)
    settings = ft.TuneSettings(trainable=("decoder.model.decoder.layers.2.fc2.*",), batch=4,
                               accumulate=1, max_steps=3, seed=1)
    ft.FineTuner(Recognizer(second_look=False), settings).run(_examples(corrections))
    assert seen["splice"] > 0 and seen["strength"] == {ft.TuneSettings.augment} != {0.0}
    assert "jitter strength 2, 50% of corrections spliced" in _recipe_words(settings)


def test_style_lines_take_the_share_of_the_corrections_places_they_are_given(corrections, monkeypatch):
    import ocr.finetune as ft
    import ocr.style_lines as sl
    from ocr import Recognizer

    examples = _examples(corrections)
    own = {e.text for e in examples}
    made, read = [], []
    sample, loss = sl.StyleLines.sample, ft.FineTuner.loss

    def counting_sample(self, rng):
        made.append(sample(self, rng))
        return made[-1]

    def recording_loss(self, images, texts):
        read.extend(texts)
        return loss(self, images, texts)

    monkeypatch.setattr(sl.StyleLines, "sample", counting_sample)
    monkeypatch.setattr(ft.FineTuner, "loss", recording_loss)

    def run(share):
        made.clear()
        read.clear()
        settings = ft.TuneSettings(trainable=("decoder.model.decoder.layers.2.fc2.*",), batch=6,
                                   accumulate=1, max_steps=4, seed=1, splice=0.0, style_lines=share)
        tuner = ft.FineTuner(Recognizer(second_look=False), settings)
        tuner.run(examples)
        return tuner

    tuner = run(0.0)
    assert not made and set(read) <= own and tuner.style_faces == ""
    tuner = run(1.0)  # every place in a batch: a new line, and it is what is read
    assert len(made) == len(read) == 24 and read == [t for _, t in made] and tuner.style_faces
    assert set(read) - own  # texts the corrections do not hold
    run(0.5)
    assert 0 < len(made) < len(read)
    assert "new lines set in" in _recipe_words(tuner.settings)


def test_a_tuned_folder_names_the_typefaces_its_new_lines_were_set_in(tmp_path, corrections):
    out = tmp_path / "tuned"
    report = tune_model(corrections, out, max_steps=1, device="cpu", recipe={"style_lines": 0.5})
    assert report.style_faces  # e.g. "DejaVuSans (0.71), ..."
    first = report.style_faces.split(" (")[0]
    assert first in (out / "README.md").read_text(encoding="utf-8")
    saved = json.loads((out / "tuning.json").read_text())
    assert saved["style_faces"] == report.style_faces
    assert "new lines set in the installed typefaces" in saved["recipe"]
