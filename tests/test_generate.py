"""``backend.generate`` and ``signforge generate``: the shipped HandMDM, batches from a prompts
file, and every kind of bad input ending in a clear error and no file (issue 4, section 7)."""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from backend.cli import app
from backend.generate import DEFAULT_RUNS, GenerateError, GenerateWarning, generate
from blender_addon.core.prompts import PromptsError, assign_seeds, read_prompts, slug, take_names
from backend.io import load_motion
from backend.motion import Motion
from backend.runs import RunError, load_run, verify_manifest

FAST = {"frames": 20, "steps": 4}   # the shipped weights, sampled briefly


def run_cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())   # rich wraps at 80 columns


@pytest.fixture(autouse=True)
def no_clip_weights(monkeypatch):
    monkeypatch.delenv("SIGNFORGE_CLIP_WEIGHTS", raising=False)


@pytest.fixture
def png(tmp_path):
    from PIL import Image

    path = tmp_path / "hand.png"
    Image.fromarray((np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)).save(path)
    return path


def copy_run(src, dst):
    dst.mkdir()
    for name in ("config.json", "stats.npz", "weights.safetensors"):
        shutil.copy(src / name, dst / name)
    return dst


def test_generate_returns_seeded_finite_motions():
    a = generate("the right hand taps the chin twice", num=2, seed=5, **FAST)
    b = generate("the right hand taps the chin twice", num=2, seed=5, **FAST)
    assert len(a) == 2 and all(isinstance(m, Motion) for m in a)
    assert a[0].num_frames == 20 and a[0].fps == 25.0 and a[0].text == "the right hand taps the chin twice"
    assert np.array_equal(a[1].poses, b[1].poses)             # the seed fixes the result
    assert not np.allclose(a[0].poses, a[1].poses)            # the variants differ
    assert a[0].provenance["steps"] == "4" and a[1].provenance["sample"] == "1"
    assert all(np.isfinite(m.poses).all() for m in a)


def test_ddim_is_the_default_sampler_and_ddpm_is_stochastic():
    ddim = generate("the right hand taps the chin twice", seed=5, refine=1, **FAST)[0]   # refine 1: sampled, no plan
    ddpm = generate("the right hand taps the chin twice", seed=5, refine=1, **{**FAST, "sampler": "ddpm"})[0]
    assert ddim.provenance["sampler"] == "ddim" and ddpm.provenance["sampler"] == "ddpm"
    assert not np.allclose(ddim.poses, ddpm.poses) and np.isfinite(ddpm.poses).all()


def test_a_take_is_planned_from_the_text_and_refine_lets_the_model_redraw_it():
    from backend.eval import fidelity as F
    from backend.body.model import Body

    planned = generate("The left fist taps the chin twice.", seed=1)[0]
    prov = planned.provenance
    assert prov["source"] == "signforge-plan" and prov["plan"].startswith("left one s chin touch tap x2")
    assert prov["hand"] == "left" and float(prov["plan_agreement"]) >= 0.85
    body = Body.load()
    got = F.describe(planned, body, "left")
    assert got.hands == "dominant" and got.movement.strokes >= 2 and F.handshape(planned, body, "left") == "s"
    # the place is the hand's mean point over the sign window: a fist whose knuckles tap the chin
    # and leave it by a stroke's length sits near the chin/chest boundary (seed 1: 5.7 cm under
    # the neck joint, "chest"; 5.4 cm, "mouth/chin", with the approach's previous bow)
    places = [F.describe(generate("The left fist taps the chin twice.", seed=s)[0], body, "left").place
              for s in (0, 1, 2, 3)]
    assert places.count("mouth/chin") >= 3, places
    redrawn = generate("The left fist taps the chin twice.", seed=1, refine=0.3, steps=10)[0]
    assert redrawn.provenance["source"] == "signforge-handmdm" and redrawn.provenance["refine"] == "0.3"
    assert redrawn.num_frames == planned.num_frames and not np.allclose(redrawn.poses, planned.poses)
    free = generate("The left fist taps the chin twice.", seed=1, refine=1, steps=4)[0]
    assert "plan" not in free.provenance and "refine" not in free.provenance
    with pytest.raises(GenerateError, match="refine"):
        generate("The left fist taps the chin twice.", refine=1.5)


def test_backend_generate_is_callable():
    import backend

    motions = backend.generate("the right hand taps the chin twice", num=1, seed=5, **FAST)
    assert isinstance(motions[0], Motion)
    assert np.array_equal(motions[0].poses, generate("the right hand taps the chin twice", seed=5, **FAST)[0].poses)


@pytest.mark.parametrize("kwargs, message", [
    ({"text": ""}, "the prompt is empty"),
    ({"text": " \n\t "}, "the prompt is empty"),
    ({"steps": 0}, "steps must be between 1 and 100"),
    ({"steps": -3}, "steps must be between 1 and 100"),
    ({"frames": 2}, "4 frames"),
    ({"frames": 5000}, "exceed this model's longest take, 101 frames"),
    ({"frames": None, "seconds": float("nan")}, "seconds must be a number over 0"),
    ({"frames": None, "seconds": -1.0}, "seconds must be a number over 0"),
    ({"frames": None, "seconds": 3600.0}, "exceed this model's"),
    ({"guidance": float("inf")}, "guidance must be"),
    ({"num": 0}, "at least 1 sample"),
    ({"model": "gpt"}, "unknown model"),
    ({"device": "tpu"}, "unknown device"),
    ({"sampler": "euler"}, "sampler must be ddim or ddpm"),
])
def test_bad_requests_are_named(kwargs, message):
    args = {"text": "hello", **FAST, **kwargs}
    with pytest.raises(GenerateError, match=message):
        generate(**args)


def test_long_prompts_are_truncated_with_a_note():
    prompt = " ".join(["the right hand taps the chin"] * 60)   # ~360 tokens; MiniLM reads 256
    with pytest.warns(GenerateWarning, match="reads the first 256"):
        motions = generate(prompt, **FAST)
    assert motions[0].provenance["prompt_truncated"].startswith("256 of ")
    assert motions[0].text == prompt


def test_non_english_and_emoji_prompts_generate():
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a prompt the vocabulary knows gives no note
        ja = generate("右手が顎を二回たたく", **FAST)[0]
        de = generate("Die rechte Hand tippt zweimal ans Kinn", **FAST)[0]
    with pytest.warns(GenerateWarning, match="knows none of the prompt's characters"):
        emoji = generate("👋🤟✨", **FAST)[0]
    for m in (ja, de, emoji):
        assert np.isfinite(m.poses).all() and m.num_frames == 20
    assert emoji.provenance["prompt_unknown_tokens"] == "1" and emoji.text == "👋🤟✨"


def test_damaged_or_missing_shipped_files_are_refused(tmp_path):
    run = copy_run(DEFAULT_RUNS["handmdm"], tmp_path / DEFAULT_RUNS["handmdm"].name)
    shipped = json.loads((DEFAULT_RUNS["handmdm"].parent / "MANIFEST.json").read_text())["files"]
    manifest = tmp_path / "MANIFEST.json"
    manifest.write_text(json.dumps({"files": {k: v for k, v in shipped.items() if k.startswith(f"{run.name}/")}}))
    verify_manifest(run, manifest)   # an intact copy passes
    data = bytearray((run / "weights.safetensors").read_bytes())
    data[-100] ^= 0xFF
    (run / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(RunError, match="does not match its sha256"):
        verify_manifest(run, manifest)
    (run / "stats.npz").unlink()
    with pytest.raises(RunError, match="missing; reinstall"):
        verify_manifest(run, manifest)


def test_unloadable_runs_are_refused(tmp_path):
    with pytest.raises(RunError, match="not a SignForge run folder"):
        load_run(tmp_path)
    run = copy_run(DEFAULT_RUNS["handmdm"], tmp_path / "cut")
    (run / "weights.safetensors").write_bytes((run / "weights.safetensors").read_bytes()[:5000])
    with pytest.raises(GenerateError, match="weights.safetensors cannot be loaded"):
        generate("hello", run_dir=run, **FAST)
    run = copy_run(DEFAULT_RUNS["handmdm"], tmp_path / "bad-stats")
    (run / "stats.npz").write_bytes(b"not a zip file")
    with pytest.raises(RunError, match="stats.npz cannot be loaded"):
        load_run(run)


def test_nan_never_reaches_a_file(tmp_path):
    run = copy_run(DEFAULT_RUNS["handmdm"], tmp_path / "nan-run")
    weights = load_file(str(run / "weights.safetensors"))
    weights["motion_out.bias"] = torch.full_like(weights["motion_out.bias"], float("nan"))
    save_file(weights, str(run / "weights.safetensors"))
    with pytest.raises(GenerateError, match="NaN or inf"):
        generate("hello", run_dir=run, refine=1, **FAST)   # the model samples (a plan alone runs no model)
    out = tmp_path / "out.npz"
    code, text = run_cli("generate", "hello", "--run", run, "--frames", 20, "--steps", 4, "--refine", 1, "-o", out)
    assert code == 2 and "NaN or inf" in text and "nothing was written" in text
    assert not out.exists() and list(tmp_path.glob("*.npz")) == []


def test_read_prompts_and_names(tmp_path):
    f = tmp_path / "p.txt"
    f.write_bytes("\ufeff# a comment\nthe right hand taps the chin\n\n   \n  # indented comment\n"
                  "  Thank you!  \n👋\n".encode())
    assert read_prompts(f) == [(2, "the right hand taps the chin", None), (6, "Thank you!", None), (7, "👋", None)]
    assert slug("Thank you!") == "thank-you" and slug("👋") == "prompt"
    # one name for a take, whichever front end makes it: the prompt's slug and its seed
    assert take_names("a b", 3, 1) == ["a-b-s3.npz"]
    assert take_names("x", 0, 2) == ["x-s0-1.npz", "x-s0-2.npz"]
    # repeated lines take the next seeds, so their takes (and names) differ
    assert [(p, s) for p, s, _ in assign_seeds([("a b", None), ("a b", None)], 0)] == [("a b", 0), ("a b", 1)]
    for content, message in ((b"ok\n\xff\xfe bad\n", "line 2: not UTF-8"),
                             (b"ok\n\n\x01\x02\n", "line 3: the prompt has no printable"),
                             (b"ok\nthe hand\x07 taps\n", "line 2: the prompt holds the control character"),
                             (b"ok\nwave\tfast\n", "line 2: the seed after the tab, 'fast'"),
                             (b"# only comments\n\n", "holds no prompts")):
        f.write_bytes(content)
        with pytest.raises(PromptsError, match=message):
            read_prompts(f)
    with pytest.raises(PromptsError, match="missing.txt: no such file"):
        read_prompts(tmp_path / "missing.txt")


def test_cli_prompts_file_fills_a_folder_in_order(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# signs\nthe right hand taps the chin\n\nthe left hand waves\n👋🤟\n", encoding="utf-8")
    out = tmp_path / "motions"
    code, text = run_cli("generate", "--prompts", prompts, "-o", out, "--num", 2, "--frames", 20, "--steps", 4)
    assert code == 0, text
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["the-right-hand-taps-the-chin-s0-1.npz", "the-right-hand-taps-the-chin-s0-2.npz",
                            "the-left-hand-waves-s1-1.npz", "the-left-hand-waves-s1-2.npz",
                            "prompt-s2-1.npz", "prompt-s2-2.npz"])
    assert "line 5: the minilm encoder knows none" in text
    m = load_motion(out / "the-left-hand-waves-s1-2.npz")
    assert m.text == "the left hand waves" and m.num_frames == 20 and m.provenance["sample"] == "1"
    assert load_motion(out / "prompt-s2-1.npz").text == "👋🤟"


def test_cli_bad_prompts_file_writes_nothing(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the right hand taps the chin\nthe left hand waves\n\x01\n", encoding="utf-8")
    out = tmp_path / "motions"
    code, text = run_cli("generate", "--prompts", prompts, "-o", out, "--frames", 20, "--steps", 4)
    assert code == 2 and "line 3: the prompt has no printable characters" in text
    assert not out.exists()
    code, text = run_cli("generate", "hello", "--prompts", prompts, "-o", out)
    assert code == 2 and "give no TEXT" in text
    (tmp_path / "file").write_text("x")
    prompts.write_text("hello\n")
    code, text = run_cli("generate", "--prompts", prompts, "-o", tmp_path / "file")
    assert code == 2 and "names a folder" in text


@pytest.mark.parametrize("args, message", [
    (["", "-o", "{tmp}/e.npz"], "the prompt is empty"),
    (["-o", "{tmp}/e.npz"], "give a prompt, --prompts FILE or --image PATH"),
    (["hello", "--steps", "0", "-o", "{tmp}/e.npz"], "--steps must be at least 1; got 0"),
    (["hello", "--seconds", "2", "--frames", "40", "-o", "{tmp}/e.npz"], "give --seconds or --frames, not both"),
    (["hello", "--seconds", "600", "-o", "{tmp}/e.npz"], "exceed this model's"),
    (["hello", "-o", "{tmp}/e.txt"], "unknown extension '.txt'"),
    (["hello", "--image", "{png}", "-o", "{tmp}/e.npz"], "HandMDM is conditioned on text, not images"),
    (["--model", "signavatar", "--image", "{tmp}/none.png", "-o", "{tmp}/e.npz"], "does not exist"),
    (["--model", "signavatar", "--image", "{tmp}/prompts.txt", "-o", "{tmp}/e.npz"], "is not an image"),
    (["--model", "signavatar", "--image", "{png}", "-o", "{tmp}/e.npz"],
     "never substitutes random weights"),
    (["--model", "signavatar", "--image", "{png}", "--clip-weights", "{tmp}/none.safetensors",
      "-o", "{tmp}/e.npz"], "does not exist"),
])
def test_cli_bad_input_gets_an_error_and_no_file(tmp_path, png, args, message):
    (tmp_path / "prompts.txt").write_text("hello\n")
    code, text = run_cli("generate", *[a.format(tmp=tmp_path, png=png) for a in args])
    assert code == 2 and message in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hand.png", "prompts.txt"]


def test_cli_without_clip_weights_says_what_to_do(tmp_path, png):
    code, text = run_cli("generate", "--model", "signavatar", "--image", png, "-o", tmp_path / "e.npz")
    assert code == 2
    assert "--clip-weights" in text and "SIGNFORGE_CLIP_WEIGHTS" in text
    assert "trained on minilm embeddings" in text   # and the shipped SignAvatar would not take images anyway


@pytest.fixture
def clip_run(tmp_path):
    """A tiny CLIP (random weights saved as a local file) and a tiny SignAvatar run conditioned on it."""
    import open_clip

    from backend.models import SignAvatar, SignAvatarConfig

    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "signforge-gen-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "signforge-gen-clip.json")
    torch.manual_seed(0)
    clip = open_clip.create_model("signforge-gen-clip")
    weights = tmp_path / "clip.safetensors"
    save_file({k: v.contiguous().clone() for k, v in clip.state_dict().items()}, str(weights))
    run = tmp_path / "signavatar-clip"
    run.mkdir()
    mc = SignAvatarConfig.named("small", cond_dim=32, max_frames=40, layers=1, width=32, heads=2, ff=64, latent=8)
    save_file(SignAvatar(mc).state_dict(), str(run / "weights.safetensors"))
    np.savez(run / "stats.npz", mean=np.zeros(274, np.float32), std=np.ones(274, np.float32))
    (run / "config.json").write_text(json.dumps({
        "format_version": 1, "run": {"model": "signavatar", "text_encoder": "clip"}, "model": mc.as_dict(),
        "text_encoder": "clip", "clip_model": "signforge-gen-clip"}))
    return run, weights


def test_image_conditioning_with_clip_weights_and_a_clip_run(clip_run, png, tmp_path):
    run, weights = clip_run
    motions = generate(None, model="signavatar", frames=16, num=2, run_dir=run, image=png, clip_weights=weights)
    assert len(motions) == 2 and motions[0].num_frames == 16
    assert motions[0].provenance["image"] == str(png) and motions[0].text == ""
    out = tmp_path / "from-image.npz"
    code, text = run_cli("generate", "--run", run, "--model", "signavatar", "--image", png, "--clip-weights",
                         weights, "--frames", 16, "-o", out)
    assert code == 0, text
    assert load_motion(out).num_frames == 16
    with pytest.raises(GenerateError, match="is a handmdm run, conditioned on text"):
        generate(None, run_dir=DEFAULT_RUNS["handmdm"], image=png, clip_weights=weights, **FAST)
