import json

import pytest

from ocr.config import ModelConfigError, TrOCRConfig
from ocr.tokenizer import TextTokenizer, TokenizerError
from training.charset_tokenizer import build_char_tokenizer


def _cfg(**enc):
    encoder = {"model_type": "deit", "hidden_size": 384, "num_hidden_layers": 12,
               "num_attention_heads": 6, "intermediate_size": 1536, "image_size": 384,
               "patch_size": 16, **enc}
    decoder = {"model_type": "trocr", "d_model": 256, "decoder_layers": 6,
               "decoder_attention_heads": 8, "vocab_size": 64044,
               "cross_attention_hidden_size": 384, "use_learned_position_embeddings": True}
    return {"encoder": encoder, "decoder": decoder, "decoder_start_token_id": 2, "eos_token_id": 2}


def test_deit_sequence_has_cls_and_distillation_tokens():
    cfg = TrOCRConfig.from_dict(_cfg())
    assert cfg.encoder.num_patches == 576
    assert cfg.encoder.seq_len == 578  # candle's port assumed 577 here
    assert not cfg.needs_enc_to_dec_proj
    assert cfg.cross_kv_dim == 384


def test_non_square_image_and_patches():
    cfg = TrOCRConfig.from_dict(_cfg(model_type="vit", image_size=[32, 384], patch_size=[32, 8]))
    assert cfg.encoder.grid == (1, 48)
    assert cfg.encoder.seq_len == 49


@pytest.mark.parametrize("bad, words", [
    ({"encoder": {"model_type": "swin"}, "decoder": {}}, "unsupported encoder"),
    ({"decoder": {}}, "not a VisionEncoderDecoder"),
])
def test_bad_configs_are_named(bad, words):
    with pytest.raises(ModelConfigError, match=words):
        TrOCRConfig.from_dict(bad, "x/config.json")


def test_image_not_multiple_of_patch():
    with pytest.raises(ModelConfigError, match="not a multiple"):
        TrOCRConfig.from_dict(_cfg(image_size=100))


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelConfigError, match="no config.json"):
        TrOCRConfig.from_folder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelConfigError, match="invalid JSON"):
        TrOCRConfig.from_folder(tmp_path)


def test_char_tokenizer_round_trip(tmp_path):
    build_char_tokenizer("abc 1,.%€é").save(str(tmp_path / "tokenizer.json"))
    tok = TextTokenizer.from_folder(tmp_path)
    ids = tok.encode("a 1,1% é")
    assert tok.decode(ids + [2]) == "a 1,1% é"
    assert "<unk>" not in tok.decode(tok.encode("z"))


def test_roberta_vocab_and_merges(tmp_path):
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["total revenue 1,234", "net income (56)"] * 20, vocab_size=300,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    bpe.save_model(str(tmp_path))
    tok = TextTokenizer.from_folder(tmp_path, special_ids={0, 1, 2})
    ids = tok.encode("net revenue")
    assert tok.decode([0] + ids + [2]) == "net revenue"


def test_no_tokenizer(tmp_path):
    with pytest.raises(TokenizerError, match="no tokenizer"):
        TextTokenizer.from_folder(tmp_path)
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0}))
    with pytest.raises(TokenizerError):
        TextTokenizer.from_folder(tmp_path)
