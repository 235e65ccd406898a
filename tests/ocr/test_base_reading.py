"""A tuned model folder that keeps its base (ocr.base_reading): the base reads first,
the tuned weights read what the base is unsure of, and the surer reading is kept."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import engine
from ocr import DEFAULT_MODEL_DIR, Recognizer
from ocr.config import GenerationConfig, ModelConfigError
from ocr.finetune import write_base_reading
from ocr.weights import WeightFile
from training.cells import CellGenerator


def _blurred_copy(folder, out):
    """A copy of the folder whose encoder sees through noise: it reads, less surely."""
    shutil.copytree(folder, out)
    weights = WeightFile(folder)
    rng = np.random.default_rng(0)
    tensors = {}
    for name in sorted(weights.names()):  # a set: sorted, so the noise is the same each run
        t = weights[name]
        if name.startswith("encoder.encoder.layer.") and name.endswith("dense.weight"):
            a = t.numpy().astype(np.float32)
            a = a + rng.normal(0, 0.6 * a.std(), a.shape).astype(np.float32)
            t = engine.tensor(a).to(t.dtype)
        tensors[name] = t
    engine.save_safetensors(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


@pytest.fixture(scope="module")
def crops():
    gen = CellGenerator(5, "heldout")
    cells = [gen.sample(i) for i in range(64)]
    return [c.image for c in cells if c.text and "\n" not in c.text]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("base-reading")
    weak = _blurred_copy(DEFAULT_MODEL_DIR, root / "weak")
    return root, weak


def _texts(readings):
    return [r.text for r in readings]


def _gated(root, name, tuned, base, trust):
    out = root / name
    if not out.exists():
        shutil.copytree(tuned, out)
        write_base_reading(base, out, trust)
    return out


def test_the_base_reads_first_and_the_surer_reading_is_kept(folders, crops):
    root, weak = folders
    # the embedded model as the "tuned" weights, a weaker model as its base
    strong_alone = Recognizer(second_look=False).recognize(crops)
    weak_alone = Recognizer.from_pretrained(weak, second_look=False).recognize(crops)
    assert [r.text for r in strong_alone] != [r.text for r in weak_alone]  # they differ
    trusted = Recognizer.from_pretrained(_gated(root, "trusted", DEFAULT_MODEL_DIR, weak, 0.0),
                                         second_look=False)
    assert trusted.base is not None
    # a base trusted everywhere: its readings, the tuned weights never asked
    assert _texts(trusted.recognize(crops)) == _texts(weak_alone)
    asked = Recognizer.from_pretrained(_gated(root, "asked", DEFAULT_MODEL_DIR, weak, 1.0),
                                       second_look=False)
    got = _texts(asked.recognize(crops))
    # (a crop read in another batch, or with the other BLAS, may differ in the last bits:
    # compare the clear choices only)
    clear = [i for i, (s, w) in enumerate(zip(strong_alone, weak_alone))
             if abs(s.confidence - w.confidence) > 0.02]
    surer = [(s if s.confidence > w.confidence else w).text
             for s, w in zip(strong_alone, weak_alone)]
    assert len(clear) > len(crops) // 2
    assert [got[i] for i in clear] == [surer[i] for i in clear]
    # each model wins somewhere with a reading of its own
    assert any(got[i] == strong_alone[i].text != weak_alone[i].text for i in clear)
    assert any(got[i] == weak_alone[i].text != strong_alone[i].text for i in clear)
    # base_reading=False reads with the tuned weights alone
    alone = Recognizer.from_pretrained(root / "asked", second_look=False, base_reading=False)
    assert alone.base is None and _texts(alone.recognize(crops)) == _texts(strong_alone)


def test_a_base_that_had_a_base_of_its_own_is_copied_without_it(folders):
    root, weak = folders
    first = _gated(root, "first", weak, DEFAULT_MODEL_DIR, 0.9)
    second = root / "second"
    shutil.copytree(DEFAULT_MODEL_DIR, second)
    write_base_reading(first, second, 0.5)
    assert GenerationConfig.from_folder(second).base_reading.trust_above == 0.5
    assert GenerationConfig.from_folder(second / "base").base_reading is None
    assert not (second / "base" / "base").exists()
    third = root / "third"
    shutil.copytree(first, third, ignore=shutil.ignore_patterns("base"))
    write_base_reading(DEFAULT_MODEL_DIR, third, None)  # no base: the entry goes
    assert GenerationConfig.from_folder(third).base_reading is None


@pytest.mark.parametrize("entry, says", [
    ({"folder": "../elsewhere", "trust_above": 0.9}, "subfolder"),
    ({"folder": "/abs", "trust_above": 0.9}, "subfolder"),
    ({"folder": "base", "trust_above": 1.5}, "trust_above"),
    ({"folder": "base", "trust_above": "high"}, "trust_above"),
    ({"folder": "base"}, "expected"),
])
def test_a_bad_base_reading_entry_is_a_clear_error(tmp_path, entry, says):
    (tmp_path / "generation_config.json").write_text(json.dumps({"base_reading": entry}))
    with pytest.raises(ModelConfigError, match=f"generation_config.json: base_reading: .*{says}"):
        GenerationConfig.from_folder(tmp_path)


def test_a_named_base_folder_that_is_missing_is_a_clear_error(tmp_path):
    out = tmp_path / "tuned"
    shutil.copytree(DEFAULT_MODEL_DIR, out)
    gen = json.loads((out / "generation_config.json").read_text())
    gen["base_reading"] = {"folder": "base", "trust_above": 0.9}
    (out / "generation_config.json").write_text(json.dumps(gen))
    with pytest.raises(ValueError, match="names the base model folder 'base', which is not there"):
        Recognizer.from_pretrained(out)
