"""Text -> SMPL-X motion with a trained run (HandMDM or SignAvatar), offline on a CPU.

``generate(...)`` samples ``num`` motions for a prompt: HandMDM by DDIM with
classifier-free guidance, SignAvatar from z ~ N(0, I). Runs are loaded (once per process)
by ``backend.runs.load_run``; with no run given, the weights shipped in
``backend/weights/`` are used. What to generate is checked by the front ends'
``blender_addon.core.requests.GenerateRequest``; prompt files and take names are
``blender_addon.core.prompts``'.

Bad requests, and runs that cannot be loaded, raise ``GenerateError`` before anything is
sampled; a prompt longer than the
text encoder reads (MiniLM: 256 tokens) is truncated, and a prompt the encoder's vocabulary
does not know (emoji, some scripts) still generates: both raise a ``GenerateWarning`` and
are recorded in the motions' provenance. Samples holding NaN or inf are an error, never a
motion. torch (imported once a request has passed its checks); never bpy.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from blender_addon.core.limits import MAX_FRAMES, MAX_VARIANTS

from .callable_module import make_callable
from .motion.hands import HandError, check_hand, obey_hand, settle_idle_arms, wanted_hand
from .motion.motion import Motion
from .runs import CONFIG, SHIPPED, Run, RunError, load_run, longest_take, read_config
from blender_addon.core.errors import SignForgeError

GENERATORS = ("handmdm", "signavatar")
DEFAULT_RUNS = {kind: SHIPPED[kind] for kind in GENERATORS}   # what runs when no --run is given
FPS = 25.0
MAX_STEPS = 100   # the cosine schedule's length: DDIM runs at most that many steps
# How far up the schedule HandMDM starts from a planned take (0 keeps the plan, 1: no plan). 0:
# the shipped HandMDM moves even a barely noised take by ~4 cm (10 cm at most) and washes out
# its strokes (path type, strokes and contact fall to a third at any refine from 0.1, see
# reports/handmdm-ablations.md), so takes follow the text best as planned.
REFINE = 0.0
# The longest auto-length take kept as planned (refine 0: no model pass, so not bound by the
# model's window): a prompt that asks for parts in turn ("..., then ...") is as long as they
# take, where a two-part take fitted into a 4 s window played 10-15% faster
PLANNED_LONGEST = 250    # frames (10 s)


class GenerateError(SignForgeError, RuntimeError):
    """A run that cannot be loaded or a request that cannot be met; the message says why."""


class GenerateWarning(UserWarning):
    """Generation goes ahead, but not quite on the prompt as written (truncated, unknown tokens)."""


_RUNS: dict[str, Run] = {}


def handmdm_run(run_dir: str | os.PathLike | None = None) -> Run:
    """The HandMDM run at ``run_dir`` (default: the shipped one), loaded once per process."""
    path = Path(run_dir) if run_dir else DEFAULT_RUNS["handmdm"]
    key = str(path.resolve())
    if key not in _RUNS:
        try:
            _RUNS[key] = load_run(path, kinds=("handmdm",))
        except RunError as exc:
            raise GenerateError(str(exc)) from None
    return _RUNS[key]


def _prompt_notes(encoder, text: str) -> tuple[list[str], dict[str, str]]:
    """What the encoder will not read of ``text``: warnings to show and provenance to keep."""
    count = getattr(encoder, "count_tokens", None)
    if count is None:
        return [], {}
    tokens, limit, unknown = count(text)
    notes, prov = [], {}
    if tokens > limit:
        notes.append(f"the prompt has {tokens} tokens; the {encoder.name} encoder reads the first {limit} "
                     f"and ignores the rest")
        prov["prompt_truncated"] = f"{limit} of {tokens} tokens"
    words = tokens - 2   # start and end tokens
    if words > 0 and unknown >= words:
        notes.append(f"the {encoder.name} encoder knows none of the prompt's characters (emoji or an "
                     f"unsupported script); the motion is generated, but follows no text")
        prov["prompt_unknown_tokens"] = str(unknown)
    elif unknown:
        prov["prompt_unknown_tokens"] = str(unknown)
    return notes, prov


def _check_image(image: str | os.PathLike) -> Path:
    path = Path(image).expanduser()
    if not path.is_file():
        raise GenerateError(f"image {path} does not exist" if not path.exists() else f"image {path} is not a file")
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
    except Exception as exc:   # PIL raises several kinds for files that are not images
        raise GenerateError(f"{path} is not an image SignForge can read "
                            f"({exc.__class__.__name__}: {exc})") from None
    return path


def generate(text: str | None, model: str = "handmdm", frames: int | None = None, seconds: float | None = None,
             guidance: float = 2.5, steps: int = 50, seed: int = 0, num: int = 1,
             run_dir: str | os.PathLike | None = None,
             progress: Callable[[int, int], None] | None = None, device: str = "cpu",
             image: str | os.PathLike | None = None, clip_weights: str | os.PathLike | None = None,
             sampler: str = "ddim", hand: str | None = None, settle: bool = True,
             refine: float | None = None) -> list[Motion]:
    """``num`` motions for ``text`` (or, with SignAvatar on a CLIP run, for ``image``) at 25 fps.

    ``progress(done, total)`` is called as sampling advances; an exception it raises
    aborts generation (that is how a cancel stops it). ``device`` is "cpu" or "cuda"; the
    noise is drawn on the CPU, so a seed gives the same start on either. HandMDM samples
    with DDIM at ``steps`` steps (up to the schedule's 100), or ``sampler="ddpm"``: the
    stochastic sampler over all 100. ``image`` needs CLIP weights (open_clip's cache,
    ``clip_weights`` or ``$SIGNFORGE_CLIP_WEIGHTS``) and a SignAvatar run trained on CLIP
    embeddings; HandMDM is conditioned on text tokens and refuses images. ``hand``
    ("left", "right", None/"auto") is the dominant hand for prompts that name none; a
    prompt that names a hand is obeyed; a motion led by the other hand is mirrored. With ``settle``
    (the default), an arm that stays near its rest is held exactly at rest (``settle_idle_arms``).

    HandMDM takes are planned (``backend.plan``): the scene parser reads the prompt's hand,
    shape, place, action and count, the realizer makes a motion that shows them, and sampling
    starts from that plan noised ``refine`` of the way up the schedule (SDEdit). ``refine`` 0
    keeps the plan exactly (no model pass), 1 samples from pure noise as MDM does; the
    default is ``REFINE``. The auto length is the plan's (a plan kept as is up to
    ``PLANNED_LONGEST``, past the model's window).
    """
    if text is not None and not isinstance(text, str):
        raise GenerateError(f"the prompt must be text; got {type(text).__name__}")
    if image is None and (text is None or not text.strip()):
        raise GenerateError("the prompt is empty")
    if seconds is not None and frames is not None:
        raise GenerateError("give seconds or frames, not both")
    if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= MAX_FRAMES / FPS):
        raise GenerateError(f"seconds must be a number over 0 and at most {MAX_FRAMES / FPS:g}; got {seconds}")
    auto = frames is None and seconds is None   # a HandMDM run with a length head takes it from the text
    if frames is None:
        frames = int(round((seconds if seconds is not None else 2.4) * FPS))
    if num < 1 or frames < 4:
        raise GenerateError(f"need at least 1 sample and 4 frames; got num={num}, frames={frames}")
    if num > MAX_VARIANTS:
        raise GenerateError(f"{num} variants is over the limit of {MAX_VARIANTS} per prompt")
    if not 0 <= seed < 2 ** 63:
        raise GenerateError(f"seed must be between 0 and 2**63 - 1; got {seed}")
    if not 1 <= steps <= MAX_STEPS:
        raise GenerateError(f"steps must be between 1 and {MAX_STEPS} (the schedule's length); got {steps}")
    if sampler not in ("ddim", "ddpm"):
        raise GenerateError(f"sampler must be ddim or ddpm; got {sampler!r}")
    if not (math.isfinite(guidance) and guidance >= 0):
        raise GenerateError(f"guidance must be a number of at least 0; got {guidance}")
    refine = REFINE if refine is None else refine
    if not (isinstance(refine, (int, float)) and math.isfinite(refine) and 0 <= refine <= 1):
        raise GenerateError(f"refine must be a number from 0 (keep the plan) to 1 (no plan); got {refine}")
    try:
        check_hand(hand)
    except HandError as exc:
        raise GenerateError(str(exc)) from None
    if device not in ("cpu", "cuda"):
        raise GenerateError(f"unknown device {device!r}; choose cpu or cuda")
    if image is not None and run_dir is None and model == "handmdm":
        raise GenerateError("HandMDM is conditioned on text, not images; use --model signavatar with a run "
                            "trained on CLIP embeddings for --image")
    path = Path(run_dir) if run_dir else DEFAULT_RUNS.get(model)
    if path is None:
        raise GenerateError(f"unknown model {model!r}; choose {' or '.join(GENERATORS)}")
    if run_dir is None and not (path / CONFIG).exists():
        raise GenerateError(f"no trained {model} weights at {path}; train one with `signforge train {model}` "
                            f"and pass --run RUN_DIR")
    image_path = _check_image(image) if image is not None else None
    key = str(path.resolve())
    try:   # config.json alone first: what the run cannot do is refused before torch and the weights load
        meta = _RUNS[key].config if key in _RUNS else read_config(path, GENERATORS)
    except RunError as exc:
        raise GenerateError(str(exc)) from None
    kind = meta["run"]["model"]
    if image_path is not None and kind != "signavatar":
        raise GenerateError(f"{path} is a {kind} run, conditioned on text, not images; use --model "
                            f"signavatar with a run trained on CLIP embeddings for --image")
    limit = longest_take(meta)
    if frames > limit:
        raise GenerateError(f"{frames} frames exceed this model's longest take, {limit} frames ({limit / FPS:.1f} s)")
    # every check above runs without torch, so a refused request answers at once
    import torch

    from .diffusion import CosineSchedule, sample
    from .models.handmdm import upsample
    from .text import EncoderError, load_text_encoder

    if device == "cuda" and not torch.cuda.is_available():
        raise GenerateError("no CUDA GPU is available to this backend; choose the CPU")
    if key not in _RUNS:
        try:
            _RUNS[key] = load_run(path, kinds=GENERATORS)
        except RunError as exc:
            raise GenerateError(str(exc)) from None
    run = _RUNS[key]
    enc_name = run.config.get("text_encoder", "minilm")
    clip_model = run.config.get("clip_model", run.config["run"].get("clip_model", "ViT-B-32"))
    try:
        if image_path is not None:
            encoder = load_text_encoder("clip", clip_weights=clip_weights, clip_model=clip_model)
        else:
            encoder = load_text_encoder(enc_name, clip_weights=clip_weights, clip_model=clip_model)
    except EncoderError as exc:
        msg = str(exc)
        if image_path is not None and enc_name != "clip":
            msg += (f" Also, {run.path} was trained on {enc_name} embeddings; images need a SignAvatar run "
                    f"trained on CLIP embeddings (text_encoder clip).")
        raise GenerateError(msg) from None
    if image_path is not None and enc_name != "clip":
        raise GenerateError(f"{run.path} was trained on {enc_name} text embeddings, which an image cannot stand "
                            f"in for; --image needs a SignAvatar run trained on CLIP embeddings "
                            f"(text_encoder clip), given with --run")
    notes, prompt_prov = ([], {}) if image_path is not None else _prompt_notes(encoder, text)
    for note in notes:
        warnings.warn(note, GenerateWarning, stacklevel=2)
    net = run.model.to(device)
    g = torch.Generator().manual_seed(seed)
    # the plan solves arms by gradient descent: made before inference mode turns autograd off
    plans = _plans(text, hand, seed, num, None if auto else frames,
                   max(limit, PLANNED_LONGEST) if refine == 0 else limit) \
        if run.kind == "handmdm" and refine < 1 else []
    with torch.inference_mode():
        if run.kind == "handmdm":
            enc = encoder.encode([text])   # once per call: every sample and every step reuse it
            if plans:
                frames = plans[0].motion.num_frames
            elif auto:   # "auto" length: 1 s up to the model's limit; runs without a head keep 2.4 s
                frames = net.auto_frames(enc.tokens.to(device), enc.mask.to(device), low=int(FPS)) or frames
            cond = {"text": enc.tokens.expand(num, -1, -1).to(device), "text_mask": enc.mask.expand(num, -1).to(device)}
            start = None
            if plans:
                planned = np.stack([p.motion.to_features() for p in plans])
                x0 = torch.from_numpy(((planned - run.mean) / run.std).astype(np.float32))
            if plans and refine > 0:
                step, m = net.cfg.frame_step, net.cfg.model_frames(frames)
                # the last model frame may lie past the take's end: it holds the last pose
                held = x0[:, -1:].expand(-1, (m - 1) * step + 1 - frames, -1)
                start = (torch.cat([x0, held], 1)[:, ::step], float(refine))
            if plans and refine == 0:
                x = x0
                if progress is not None:
                    progress(1, 1)
            else:
                x = sample(net, (num, net.cfg.model_frames(frames), net.cfg.features), CosineSchedule.create(MAX_STEPS),
                           cond, guidance=guidance, steps=steps, generator=g, callback=progress, device=device,
                           sampler=sampler, start=start)
                x = upsample(x, net.cfg.frame_step, frames)   # to 25 fps (a no-op for full-rate runs)
        else:
            if image_path is not None:
                try:
                    emb = encoder.encode_images([image_path])
                except EncoderError as exc:
                    raise GenerateError(str(exc)) from None
            else:
                emb = encoder.encode([text]).pooled
            if emb.shape[-1] != net.cfg.cond_dim:
                raise GenerateError(f"{run.path} takes {net.cfg.cond_dim}-D conditions; the {encoder.name} "
                                    f"encoder gives {emb.shape[-1]}-D")
            x = net.generate(emb.expand(num, -1).to(device), frames, g)
            if progress is not None:
                progress(1, 1)
        x = x.cpu()
    if not torch.isfinite(x).all():
        raise GenerateError(f"{run.path} produced NaN or inf values; nothing was written. The weights may be "
                            f"damaged, or the guidance ({guidance}) too large")
    feats = x.numpy() * run.std + run.mean
    if not np.isfinite(feats).all():
        raise GenerateError(f"{run.path}: the motion is not finite after denormalization (check stats.npz); "
                            f"nothing was written")
    provenance = {"source": f"signforge-{run.kind}", "run": run.path.name, "seed": str(seed),
                  "guidance": str(guidance),
                  "steps": str(MAX_STEPS if run.kind == "handmdm" and sampler == "ddpm" else steps),
                  **({"sampler": sampler} if run.kind == "handmdm" else {}), **prompt_prov}
    if image_path is not None:
        provenance["image"] = str(image_path)
    wanted, why = wanted_hand(text, hand)
    if plans:
        provenance["refine"] = f"{refine:g}"
        if refine == 0:
            provenance["source"] = "signforge-plan"
    motions = []
    for i, f in enumerate(feats):
        prov = {**provenance, "sample": str(i)}
        if not plans:
            motions.append(obey_hand(Motion.from_features(f, FPS, text=text or "", provenance=prov), wanted, why))
            continue
        # a planned take is signed by the asked hand already; the lead measure would mistake
        # the raised base hand of a two-handed sign for the signing one and mirror it
        plan = plans[i]
        prov.update({k: v for k, v in plan.motion.provenance.items() if k.startswith("plan")})
        prov.update(hand=plan.asked.side, hand_from=plan.side_from, hand_mirrored="false")
        motions.append(Motion.from_features(f, FPS, text=text or "", provenance=prov, betas=plan.motion.betas))
    return [settle_idle_arms(m) for m in motions] if settle else motions


def _plans(text: str, hand: str | None, seed: int, num: int, frames: int | None, limit: int):
    """The planned takes of ``text`` (see ``backend.plan``; ``hand`` for a text that says no
    side), all ``frames`` long (else the first take's length), at most ``limit``."""
    from .plan.parse import ParseError
    from .plan.planner import fit_length, planner

    try:
        plan = planner()
    except ParseError as exc:
        raise GenerateError(f"the scene parser cannot be loaded: {exc}") from None
    if not any(ch.isalpha() for ch in text):
        warnings.warn("the prompt has no words to plan from; the take is sampled without a plan", GenerateWarning,
                      stacklevel=3)
        return []
    plans = plan.plan(text, hand=check_hand(hand), seed=seed, num=num)
    length = min(frames or plans[0].motion.num_frames, limit)
    for p in plans:
        p.motion = fit_length(p.motion, length)
    return plans


make_callable(__name__)   # ``backend.generate(...)`` is this module's ``generate(...)``
