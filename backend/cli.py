"""``signforge``: the command-line tool (typer). Thin: parse, call the backend, report.

May import torch and smplx through the backend; ``render`` and ``demo`` import bpy
(through ``blender_addon.batch``), nothing else does.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from blender_addon.core.errors import EXIT_BUG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_IO, EXIT_MEMORY, SignForgeError
from blender_addon.core.limits import MAX_PREVIEW_FRAMES, MAX_PREVIEW_ROWS, MAX_VARIANTS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SignForge: SMPL-X signing and hand animation from the command line.")
body_app = typer.Typer(no_args_is_help=True, help="The SMPL-X body: mannequin and sites.")
app.add_typer(body_app, name="body")
console = Console()
err = Console(stderr=True)

SmplxOption = typer.Option(None, "--smplx", envvar="SIGNFORGE_SMPLX",
                           help="SMPLX_NEUTRAL.npz or its folder; default: the built-in mannequin.")
# How motion files are written (backend.io.ExportOptions); each flag is named as its field.
UpOption = typer.Option("z", "--up", help=".npz axes: z (AMASS's Z-up world, which aitviewer and the SMPL-X "
                                          "add-on read) or y (SMPL-X's own Y-up axes).")
SkeletonOption = typer.Option("smplx", "--skeleton", help=".bvh joint names: smplx or mixamo (mixamorig:Hips...).")
UnitsOption = typer.Option("m", "--units", help=".bvh lengths: m or cm (Mixamo, Unity and Unreal rigs).")
EngineOption = typer.Option("local", "--engine", help="Where the shards run: local (worker processes here) or ray "
                                                      "(pip install 'signforge[ray]'; paths must be shared storage).")
AddressOption = typer.Option(None, "--address", help="With --engine ray: the cluster, auto or HOST:PORT "
                                                      "(default: RAY_ADDRESS, else a Ray started here).")


def _export_options(up: str, skeleton: str, units: str):
    """The export flags as one ``ExportOptions``; a bad value is one line naming its flag."""
    from .io import ExportOptions

    try:
        return ExportOptions(up=up, skeleton=skeleton, units=units)
    except ValueError as exc:
        _fail(f"--{exc}")


# Exit codes (the README's "Limits" section lists them): 0 done, 1 a SignForge bug, 2 a bad
# option, input or request, 3 a file or folder that cannot be read or written, 4 out of
# memory, 130 interrupted. A SignForgeError carries its own.
DEBUG_ENV = "SIGNFORGE_DEBUG"


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, newlines) shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _error(message: str, code: int) -> None:
    """One line on stderr; text from files and options is never read as markup."""
    err.print(Text.assemble(("error:", "bold red"), " ", printable(message)), soft_wrap=True)
    raise typer.Exit(code=code)


def _fail(message: str) -> None:
    _error(message, EXIT_INPUT)


def _describe(motion) -> Table:
    table = Table(show_header=False, box=None)
    table.add_row("frames", str(motion.num_frames))
    table.add_row("fps", f"{motion.fps:g}")
    table.add_row("duration", f"{motion.duration:.2f} s")
    angles = np.linalg.norm(motion.poses, axis=-1)
    table.add_row("joint angle", f"{angles.min():.3f} .. {angles.max():.3f} rad")
    table.add_row("translation", f"{motion.trans.min():.3f} .. {motion.trans.max():.3f} m")
    table.add_row("expression", f"{motion.expression.min():.3f} .. {motion.expression.max():.3f}")
    table.add_row("betas", np.array2string(motion.betas[:10], precision=2, suppress_small=True))
    table.add_row("gender", motion.gender)
    if motion.text:
        table.add_row("text", Text(printable(motion.text)))
    if motion.confidence is not None:
        table.add_row("confidence", f"mean {motion.confidence.mean():.2f}, "
                                    f"min {motion.confidence.min():.2f}")
    for k, v in motion.provenance.items():
        table.add_row(Text(f"provenance.{printable(k)}"), Text(printable(v)))
    return table


@body_app.command("export-mannequin")
def export_mannequin_cmd(
    directory: Path = typer.Argument(..., help="Folder to write smplx/SMPLX_NEUTRAL.npz into."),
) -> None:
    """Write the built-in mannequin as an SMPL-X model file.

    Example: signforge body export-mannequin models/  (then smplx.create("models", model_type="smplx"))
    """
    from .body.mannequin import export_mannequin

    path = export_mannequin(directory)
    console.print(f"wrote {path}")


@body_app.command("sites")
def sites_cmd(smplx_path: Optional[Path] = SmplxOption) -> None:
    """Print the rest-pose position of every named body site.

    Example: signforge body sites --smplx ~/models/smplx
    """
    from .body.model import Body, BodyModelError

    try:
        body = Body.load(smplx_path)
    except BodyModelError as exc:
        _fail(str(exc))
    table = Table("site", "x", "y", "z", title=f"body sites ({body.source})")
    for name, p in body.sites.as_dict(body.rest_vertices()).items():
        table.add_row(name, *(f"{c:+.3f}" for c in p))
    console.print(table)


@app.command()
def convert(
    src: Path = typer.Argument(..., help="Input motion: .npz (AMASS/SMPL-X), .npy (HandMDM) or .bvh."),
    dst: Path = typer.Argument(..., help="Output: .npz, .npy (HandMDM), .bvh or .pose (MediaPipe Holistic)."),
    fps: Optional[float] = typer.Option(None, help="Resample to this frame rate."),
    up: str = UpOption,
    skeleton: str = SkeletonOption,
    units: str = UnitsOption,
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Convert a motion between .npz, HandMDM .npy and .bvh, or show it as MediaPipe landmarks (.pose).

    Example: signforge convert wave.npz wave.bvh --fps 30 --skeleton mixamo --units cm
    """
    from .body.model import Body, BodyModelError
    from .io import MotionFileError, load_motion, save_motion

    options = _export_options(up, skeleton, units)
    try:
        motion = load_motion(src)
        if fps is not None:
            motion = motion.resample(fps)
        body = Body.load(smplx_path) if dst.suffix.lower() in (".bvh", ".pose") else None
        save_motion(motion, dst, body=body, options=options)
    except (MotionFileError, BodyModelError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"wrote {dst} ({motion.num_frames} frames at {motion.fps:g} fps)")


@app.command()
def info(file: Path = typer.Argument(..., help="A .npz or .npy motion file.")) -> None:
    """Print frames, fps, duration and value ranges of a motion file.

    Example: signforge info wave.npz
    """
    from .io import MotionFileError, load_motion

    try:
        motion = load_motion(file)
    except MotionFileError as exc:
        _fail(str(exc))
    console.print(_describe(motion))


DEMO_PROMPT = "the right hand, shaped as a fist with the thumb up, taps the chin twice"


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), help="Folder for the demo's video and motion."),
    prompt: str = typer.Option(DEMO_PROMPT, help="What the hands do."),
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """The main job on built-in defaults: text -> motion (shipped HandMDM) -> keyframed mannequin -> mp4.

    Writes OUT/<prompt>.mp4 (Workbench, 640x480) and the motion as OUT/<prompt>.npz, offline.
    Example: signforge demo --out out
    """
    args = ["--prompt", prompt, "--out", str(out), "--engine", "workbench", "--format", "mp4"]
    if smplx_path is not None:
        args += ["--smplx", str(smplx_path)]
    raise typer.Exit(code=_render(args))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []})
def render(ctx: typer.Context) -> None:
    """Batch-render prompts or motion files to videos with Blender (bpy); `signforge render --help`.

    The same script as `blender -b -P blender_addon/batch.py -- ARGS`.
    Example: signforge render --prompts prompts.txt --out renders --engine workbench
    """
    raise typer.Exit(code=_render(list(ctx.args)))


def _render(args: list[str]) -> int:
    try:
        from blender_addon.batch import run
    except ImportError as exc:
        _fail(f"rendering needs Blender's bpy module (the 'blender' extra: pip install "
              f"'signforge[blender]') and the blender_addon package ({exc})")
    return run(args)


data_app = typer.Typer(no_args_is_help=True, help="The sign data factory: lexicon -> motions, texts, datasets.")
app.add_typer(data_app, name="data")
LexiconOption = typer.Option(None, "--lexicon", envvar="SIGNFORGE_LEXICON",
                             help="ASL-LEX 2.0 signdata.csv (https://asl-lex.org, CC BY-NC 4.0); default: "
                                  "../shared/data/asl-lex/signdata.csv beside the repository.")


def _lexicon(path):
    from .data.lexicon import LexiconError, read_lexicon

    try:
        return read_lexicon(path)
    except LexiconError as exc:
        _fail(str(exc))


@data_app.command("coverage")
def data_coverage_cmd(lexicon: Optional[Path] = LexiconOption,
                      full: bool = typer.Option(False, help="List every value and what it maps to.")) -> None:
    """Report which lexicon values map to what, and which entries are synthesized.

    Example: signforge data coverage --full
    """
    from .data.coverage import coverage

    cov = coverage(_lexicon(lexicon))
    lines = cov.lines()
    if not full:
        lines = [ln for ln in lines if not ln.startswith("  '") or "UNKNOWN" in ln]
    for ln in lines:
        console.print(ln, markup=False, highlight=False)
    unknown = cov.unknown_values()
    console.print(f"unknown values: {len(unknown)}", markup=False)


@data_app.command("synth")
def data_synth_cmd(
    entry_id: str = typer.Argument(..., help="ASL-LEX EntryID, e.g. castle_2."),
    out: Path = typer.Option(..., "-o", "--out", help="Output motion (.npz, .npy, .bvh or .pose)."),
    seed: int = typer.Option(0, help="Signer seed: body, tempo, amplitude, tremor."),
    left_handed: bool = typer.Option(False, "--left-handed", help="A left-hand-dominant signer."),
    lexicon: Optional[Path] = LexiconOption,
    up: str = UpOption,
    skeleton: str = SkeletonOption,
    units: str = UnitsOption,
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Synthesize one dictionary sign as a motion file.

    Example: signforge data synth castle_2 --seed 3 -o castle.npz
    """
    options = _export_options(up, skeleton, units)
    lex = _lexicon(lexicon)
    entry = lex.by_id().get(entry_id)
    if entry is None:
        close = [e for e in lex.by_id() if e.startswith(entry_id.split("_")[0])][:8]
        _fail(f"no entry {entry_id!r} in {lex.path}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    from .body.model import Body, BodyModelError   # after the checks: the synthesizer imports torch
    from .data.hms import HMS
    from .data.signing import sign_entry
    from .data.synth import Signer, SynthError, Synthesizer
    from .io import MotionFileError, save_motion

    try:
        body = Body.load(smplx_path)
        signed = sign_entry(Synthesizer(body), HMS(body), entry, Signer.sample(seed, left_handed=left_handed))
        motion = signed.motion.with_(text=signed.text(np.random.default_rng(seed)))
        save_motion(motion, out, body=body, options=options)
    except (SynthError, BodyModelError, MotionFileError) as exc:
        _fail(str(exc))
    console.print(f"wrote {out} ({motion.num_frames} frames, {motion.duration:.2f} s)")
    console.print(f"text: {motion.text}", markup=False)


@data_app.command("build")
def data_build_cmd(
    out: Path = typer.Option(..., "--out", help="Dataset folder (created; an unfinished one is resumed)."),
    samples: int = typer.Option(1000, help="Number of main samples (word-set samples come on top)."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same dataset (features to float "
                                     "rounding)."),
    workers: int = typer.Option(0, help="Worker processes; 0: one per core free now (busy cores "
                                        "make extra workers slower, not faster)."),
    shard_size: int = typer.Option(128, help="Samples per shard file; each is synthesized as one batch."),
    texts: int = typer.Option(3, help="Free-text descriptions per sample."),
    assign: str = typer.Option("random", help="Variant assignment: random or retrieval."),
    retrieval_model: Optional[Path] = typer.Option(None, "--retrieval-model",
                                                   help="THMR run folder for --assign retrieval."),
    word_sets: str = typer.Option("30,103", help="Sizes of the SignAvatar-style word sets ('' for none)."),
    word_set_samples: int = typer.Option(15, help="Samples per word in the word sets."),
    lexicon: Optional[Path] = LexiconOption,
    engine: str = EngineOption,
    address: Optional[str] = AddressOption,
) -> None:
    """Build a training dataset: motions, texts, splits and normalization statistics.

    Example: signforge data build --out data/asl-lex --samples 5000 --seed 0
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .data.dataset import BuildConfig, DatasetError, build
    from .engine import Engine

    try:
        sets = tuple(int(x) for x in word_sets.split(",") if x.strip())
    except ValueError:
        _fail(f"--word-sets must be comma-separated numbers; got {word_sets!r}")
    cfg = BuildConfig(out=str(out), lexicon=str(lexicon) if lexicon else None, samples=samples, seed=seed,
                      workers=max(0, workers), shard_size=max(1, shard_size), texts_per_sample=max(1, texts),
                      assign=assign, word_sets=sets, word_set_samples=word_set_samples,
                      retrieval_run=str(retrieval_model) if retrieval_model else None)
    where = Engine(engine, address)
    _lexicon(lexicon)
    with Progress(TextColumn("[bold]building[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=err, transient=True) as bar:   # gone once done: the summary follows
        task = bar.add_task("samples", total=None)
        try:
            manifest = build(cfg, progress=lambda done, total: bar.update(task, completed=done, total=total),
                             engine=where)
        except (DatasetError, ValueError) as exc:
            _fail(str(exc))
    console.print(f"wrote {out}: {manifest['samples']} samples, splits {manifest['splits']}")
    acc = manifest["assignment"]["accuracy"]
    if acc is not None:
        console.print(f"variant assignment ({cfg.assign}): {acc:.1%} of multi-variant samples get their "
                      f"true entry's text")


@app.command()
def preview(
    source: Path = typer.Argument(..., help="A motion file (.npz/.npy) or a dataset folder."),
    out: Path = typer.Option(..., "-o", "--out", help="Contact sheet PNG."),
    count: int = typer.Option(6, min=1, max=MAX_PREVIEW_ROWS, help="Motions to show from a dataset."),
    frames: int = typer.Option(6, min=1, max=MAX_PREVIEW_FRAMES, help="Frames per row."),
    split: str = typer.Option("train", help="Dataset split to draw from."),
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Draw stick figures with fingers from front, side and three-quarter views.

    Example: signforge preview castle.npz -o castle.png
    """
    from .body.model import Body, BodyModelError
    from .body.rig import Rig
    from .data.dataset import Dataset, DatasetError
    from .io import MotionFileError, load_motion
    from .motion.preview import render_sheet

    try:
        body = Body.load(smplx_path)
        if source.is_dir():
            ds = Dataset.open(source)
            records = ds.split(split)
            if not records:
                _fail(f"{source} has no samples in split {split!r}")
            idx = np.linspace(0, len(records) - 1, min(count, len(records))).round().astype(int)
            motions = [ds.motion(records[i]) for i in idx]
            labels = [f"{records[i]['word']} ({records[i]['entry']})" for i in idx]
        else:
            motions, labels = [load_motion(source)], [source.name]
        path = render_sheet(motions, lambda b: Rig.from_body(body, b).rest_joints, out, frames=frames,
                            labels=labels)
    except (DatasetError, MotionFileError, BodyModelError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"wrote {path}")


@app.command()
def train(
    model: str = typer.Argument(..., help="handmdm, signavatar, thmr or stgcn."),
    data: Path = typer.Option(..., "--data", help="A dataset folder from `signforge data build`."),
    out: Path = typer.Option(..., "--out", help="Run folder (an existing one is resumed at its last checkpoint)."),
    config: str = typer.Option("small", help="Model size: small or paper."),
    epochs: int = typer.Option(10, help="Epochs in all (a resumed run continues to this)."),
    batch: int = typer.Option(32, help="Batch size per process."),
    lr: float = typer.Option(2e-4, help="Learning rate (AdamW)."),
    seed: int = typer.Option(0, help="Run seed: initial weights, data order and texts; each rank's noise derives "
                                     "from it."),
    condition: str = typer.Option("phonology+hms", help="Text condition: gloss, phonology or phonology+hms."),
    max_frames: int = typer.Option(100, help="Longest motion the model takes (frames at 25 fps)."),
    no_curriculum: bool = typer.Option(False, "--no-curriculum", help="SignAvatar without curriculum masking."),
    word_set: Optional[str] = typer.Option(None, "--word-set",
                                           help="Train on one word set (30 or w30) and its word_train split "
                                                "(ST-GCN defaults to the largest)."),
    override: list[str] = typer.Option([], "--override",
                                       help="Model setting KEY=VALUE, a Python literal (kl_weight=1e-3, layers=2, "
                                            "length_head=False); a prefix naming one setting is enough (kl=1e-3)."),
    text_encoder: str = typer.Option("minilm", "--text-encoder", help="Text encoder: minilm or clip."),
    no_text_cache: bool = typer.Option(False, "--no-text-cache",
                                       help="Encode texts while training instead of the dataset's cached ones."),
    device: str = typer.Option("auto", help="auto (the GPU of LOCAL_RANK if any), cpu, cuda or cuda:N."),
    precision: str = typer.Option("auto", help="auto (bf16 autocast on a GPU, float32 on the CPU), fp32 or bf16."),
    warmup: int = typer.Option(0, help="Learning-rate warm-up steps."),
    cosine: bool = typer.Option(False, "--cosine", help="Half-cosine learning-rate decay to 10% at the last step."),
    frame_step: int = typer.Option(1, "--frame-step", help="HandMDM at 25/N fps: train on every N-th frame."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this run folder's weights (same shapes)."),
    w_vel: float = typer.Option(1.0, "--w-vel", help="HandMDM loss weight: feature velocity."),
    w_pos: float = typer.Option(100.0, "--w-pos", help="HandMDM loss weight: wrist and fingertip positions."),
    w_pos_vel: float = typer.Option(0.1, "--w-pos-vel", help="HandMDM loss weight: their velocities."),
    w_length: float = typer.Option(0.1, "--w-length", help="HandMDM loss weight: the length head."),
    w_contact: float = typer.Option(0.0, "--w-contact", help="HandMDM loss weight: contact distances (off at 0)."),
    checkpoint_minutes: float = typer.Option(30.0, "--checkpoint-minutes",
                                             help="A resumable step checkpoint every this many minutes (0: every "
                                                  "step), besides one at each epoch's end."),
    stop_step: Optional[int] = typer.Option(None, "--stop-step",
                                            help="Save a checkpoint and stop after this step (the same command "
                                                 "resumes the run)."),
) -> None:
    """Train a model on a factory dataset; several GPUs or machines: torchrun ... -m training.train MODEL ...

    `python -m training.train` takes the same arguments. See training/README.md for multi-node and Slurm.

    Example: signforge train handmdm --data data/asl-lex --config small --out runs/handmdm
    """
    import torch.distributed as dist

    from training.train import TrainConfig, parse_overrides, word_set_name
    from training.train import train as run

    try:
        cfg = TrainConfig(model, str(data), str(out), config, epochs, batch, lr, seed, condition=condition,
                          max_frames=max_frames, curriculum=not no_curriculum, word_set=word_set_name(word_set),
                          overrides=parse_overrides(override), text_encoder=text_encoder,
                          text_cache=not no_text_cache, device=device, precision=precision, warmup=warmup,
                          cosine=cosine, frame_step=frame_step, init=str(init) if init else None, w_vel=w_vel,
                          w_pos=w_pos, w_pos_vel=w_pos_vel, w_length=w_length, w_contact=w_contact,
                          checkpoint_minutes=checkpoint_minutes, stop_step=stop_step)
        result = run(cfg)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    finally:
        leader = not dist.is_initialized() or dist.get_rank() == 0
        if dist.is_initialized():
            dist.destroy_process_group()
    if leader:
        done = "stopped at a checkpoint" if result["stopped"] else "trained"
        console.print(f"{done} {model}: {result['steps']} steps; run folder {result['out']}", markup=False,
                      highlight=False)


@app.command()
def generate(
    text: Optional[str] = typer.Argument(None, help="What the hands do, in English (or use --prompts / --image)."),
    out: Path = typer.Option(..., "-o", "--out",
                             help="Output motion (.npz, .npy, .bvh or .pose; several get _1, _2...), or with "
                                  "--prompts the folder for the motions."),
    model: str = typer.Option("handmdm", help="handmdm or signavatar."),
    seconds: Optional[float] = typer.Option(None, help="Length in seconds (default: the model picks it from the "
                                                         "text; 2.4 s for a run without a length head)."),
    frames: Optional[int] = typer.Option(None, help="Length in frames at 25 fps (instead of --seconds)."),
    guidance: float = typer.Option(2.5, help="Classifier-free guidance scale (HandMDM)."),
    steps: int = typer.Option(50, help="Sampling steps (DDIM, up to 100)."),
    sampler: str = typer.Option("ddim", help="ddim (deterministic, --steps) or ddpm (stochastic, all 100 steps)."),
    seed: int = typer.Option(0),
    num: int = typer.Option(1, min=1, max=MAX_VARIANTS, help="How many variants (per prompt)."),
    hand: str = typer.Option("auto", "--hand",
                             help="Dominant hand: left, right or auto (right). A prompt that names a hand is "
                                  "obeyed; a motion led by the other hand is mirrored."),
    refine: Optional[float] = typer.Option(None, "--refine", min=0.0, max=1.0,
                                           help="HandMDM: how far the model redraws the take planned from the "
                                                "prompt (0 keeps the plan's hand, place, movement and count, "
                                                "1 samples without a plan; default 0: the plan)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts",
                                           help="A UTF-8 file, one prompt per line ('#' lines and blank "
                                                "lines skipped; 'prompt<TAB>seed' fixes its seed, other "
                                                "lines take --seed, --seed+1...); motions go into the -o "
                                                "folder as <prompt>-s<seed>.npz (-1, -2... with --num)."),
    image: Optional[Path] = typer.Option(None, "--image",
                                         help="Condition on an image (SignAvatar run trained on CLIP; needs "
                                              "CLIP weights)."),
    clip_weights: Optional[Path] = typer.Option(None, "--clip-weights", envvar="SIGNFORGE_CLIP_WEIGHTS",
                                                help="Local open_clip ViT-B-32 weights file for --image."),
    run: Optional[Path] = typer.Option(None, "--run", help="A run folder from `signforge train` (default: shipped)."),
    up: str = UpOption,
    skeleton: str = SkeletonOption,
    units: str = UnitsOption,
    smplx_path: Optional[Path] = SmplxOption,
    device: str = typer.Option("cpu", "--device", help="Sample on cpu or cuda (the first GPU)."),
) -> None:
    """Generate signing motion from text (or an image, with a CLIP-conditioned SignAvatar run).

    Prompts past the text encoder's limit (MiniLM: 256 tokens) are truncated, with a note.
    Nothing is written unless every motion was generated and is finite.
    Example: signforge generate "the right hand, shaped as a fist, taps the chin twice" -o tap.npz
    Example: signforge generate --prompts prompts.txt -o motions/ --num 2
    """
    import warnings

    from rich.markup import escape

    from .body.model import Body, BodyModelError
    from .atomic import atomic_batch
    from .generate import GenerateError, GenerateWarning
    from .generate import generate as make
    from .io import MotionFileError, save_motion
    from .io.formats import WRITE_SUFFIXES
    from blender_addon.core.prompts import PromptsError, assign_seeds, read_prompts
    from blender_addon.core.requests import GenerateRequest, RequestError

    options = _export_options(up, skeleton, units)
    if prompts is not None and (text is not None or image is not None):
        _fail("--prompts takes the prompts from its file: give no TEXT and no --image with it")
    if text is None and prompts is None and image is None:
        _fail("give a prompt, --prompts FILE or --image PATH")
    if prompts is not None:
        if out.exists() and not out.is_dir():
            _fail(f"with --prompts, -o names a folder; {out} is a file")
    elif out.suffix.lower() not in WRITE_SUFFIXES:
        _fail(f"-o {out}: unknown extension {out.suffix or '(none)'!r}; writable: {', '.join(WRITE_SUFFIXES)}")
    elif out.is_dir():
        _fail(f"-o {out} is a folder; name a file (or use --prompts to fill a folder)")
    settings = dict(model=model, seconds=seconds, frames=frames, guidance=guidance, steps=steps, sampler=sampler,
                    num=num, hand=hand, refine=refine, run=None if run is None else str(run), device=device)
    try:   # every request is checked before the first is generated
        if prompts is not None:   # each line its own seed: its tab's, else --seed, --seed + 1...
            lines = read_prompts(prompts)
            seeded = assign_seeds([(line.text, line.seed) for line in lines], seed)
            jobs = []
            for line, (prompt, line_seed, _) in zip(lines, seeded):
                where = f"{prompts}, line {line.number}: "
                try:
                    jobs.append((where, GenerateRequest(prompt=prompt, seed=line_seed, **settings)))
                except RequestError as exc:
                    raise RequestError(f"{where}{exc.as_options()}") from None
        else:
            jobs = [("", GenerateRequest(prompt=text, seed=seed, image=None if image is None else str(image),
                                         **settings))]
    except PromptsError as exc:
        _fail(str(exc))
    except RequestError as exc:
        _fail(exc.as_options())
    try:
        results = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GenerateWarning)
            for where, asked in jobs:
                try:
                    results.append(make(**asked.arguments(), clip_weights=clip_weights))
                except GenerateError as exc:
                    raise GenerateError(f"{where}{exc}") from None
                for w in caught:
                    if issubclass(w.category, GenerateWarning):
                        err.print(f"[yellow]note:[/] {escape(where)}{escape(str(w.message))}", highlight=False)
                caught.clear()
        if prompts is not None:
            paths = [[out / name for name in asked.file_names()] for _, asked in jobs]
        else:
            paths = [[out if num == 1 else out.with_name(f"{out.stem}_{i + 1}{out.suffix}") for i in range(num)]]
        body = Body.load(smplx_path) if out.suffix.lower() in (".bvh", ".pose") else None
        folder = out if prompts is not None else out.parent
        # every motion is made before the first file is written, and the files land together:
        # a Ctrl-C or a kill leaves all of them or none
        with atomic_batch(folder) as tmp:
            for motions, row in zip(results, paths):
                for motion, path in zip(motions, row):
                    save_motion(motion, tmp / path.name, body=body, options=options)
        for motions, row in zip(results, paths):
            for motion, path in zip(motions, row):
                console.print(f"wrote {path} ({motion.num_frames} frames, {motion.duration:.2f} s)",
                              markup=False, highlight=False)
    except (GenerateError, MotionFileError, BodyModelError) as exc:
        _fail(str(exc))


@app.command("eval")
def eval_cmd(
    model: str = typer.Argument(..., help="handmdm, signavatar, fidelity or prompts."),
    data: Optional[Path] = typer.Option(None, "--data", help="Dataset folder (test_seen / test_unseen; the word "
                                                             "sets); prompts needs none."),
    run: list[str] = typer.Option([], "--run", help="handmdm: LABEL=RUN_DIR, once per table row (each run is "
                                                    "prompted with the text condition it was trained on); "
                                                    "signavatar: a word-set RUN_DIR, once per run; fidelity: "
                                                    "one HandMDM RUN_DIR (default: the shipped one)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="prompts: a JSON-lines prompt set (default: "
                                                                   "the built-in people's prompts)."),
    thmr: Optional[Path] = typer.Option(None, "--thmr", help="handmdm: THMR run folder, the retrieval judge."),
    stgcn: list[str] = typer.Option([], "--stgcn", help="signavatar: ST-GCN run per word set, the judge."),
    samples: int = typer.Option(256, help="handmdm: samples per split (multiples of 32 count)."),
    guidance: float = typer.Option(2.5, help="handmdm, fidelity: classifier-free guidance."),
    steps: int = typer.Option(50, help="handmdm, fidelity: sampling steps."),
    seed: int = typer.Option(0, help="Noise and metric-pair seed."),
    seeds: int = typer.Option(3, help="fidelity: samples (seeds) per text, and second ground truths per text; "
                                      "prompts: takes per prompt."),
    limit: Optional[int] = typer.Option(None, help="fidelity: at most this many texts per split."),
    refine: Optional[float] = typer.Option(None, "--refine", min=0.0, max=1.0,
                                           help="fidelity, prompts: generate's --refine (default: generate's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Markdown table (default reports/MODEL.md; fidelity: "
                                                          "reports/handmdm-fidelity.md; prompts: "
                                                          "reports/people-prompts.md)."),
    device: str = typer.Option("cpu", "--device", help="handmdm, fidelity, prompts: sample on cpu or cuda (the "
                                                       "first GPU); the judges score on the CPU."),
) -> None:
    """Evaluate generators as in the papers and write a markdown table with this command in it.

    Example: signforge eval handmdm --data data/asl-lex --thmr runs/thmr --run phonology+hms=runs/handmdm

    Example: signforge eval signavatar --data data/asl-lex --stgcn runs/stgcn-w30 --run runs/signavatar-w30

    Example: signforge eval fidelity --data data/asl-lex --seeds 3 --out reports/handmdm-fidelity.md

    Example: signforge eval prompts --seeds 3
    """
    from training.evaluate import SIGNAVATAR_NOTES, eval_handmdm, eval_signavatar, write_table

    if model == "prompts":
        _eval_prompts(prompts, run, seeds, steps, guidance, refine, out or Path("reports/people-prompts.md"), device)
        return
    if data is None:
        _fail(f"eval {model} needs --data DATASET_DIR")
    if model == "fidelity":
        _eval_fidelity(data, run, seeds, limit, steps, guidance, seed, out or Path("reports/handmdm-fidelity.md"),
                       refine, device)
        return
    if not run:
        _fail(f"eval {model} needs --run (see --help)")
    out = out or Path("reports") / f"{model}.md"
    if model == "signavatar":
        if not stgcn:
            _fail("eval signavatar needs --stgcn RUN_DIR (an ST-GCN trained on each word set)")
        try:
            rows = eval_signavatar(run, stgcn, str(data), seed=seed)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
        path = write_table(rows, out, "SignAvatar: ST-GCN accuracy, FID, Diversity and Multimodality",
                           label="motions", notes=SIGNAVATAR_NOTES)
        console.print(path.read_text(), markup=False)
        return
    if model != "handmdm":
        _fail(f"eval supports handmdm, signavatar, fidelity and prompts; got {model!r}")
    if thmr is None:
        _fail("eval handmdm needs --thmr RUN_DIR (the retrieval judge)")
    runs = {}
    for item in run:
        label, _, path = item.partition("=")
        if not label or not path:
            _fail(f"--run takes LABEL=RUN_DIR (the label names the table row, e.g. the run's text "
                  f"condition: gloss, phonology, phonology+hms); got {item!r}")
        if label in runs:
            _fail(f"--run: two runs are labelled {label!r}; give each row its own label")
        runs[label] = path
    try:
        rows = eval_handmdm(runs, str(thmr), str(data), samples=samples, guidance=guidance, steps=steps, seed=seed,
                            device=device)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    path = write_table(rows, out, "HandMDM: text-to-motion retrieval (THMR judge) and FID")
    console.print(path.read_text(), markup=False)


def _eval_prompts(prompts: Optional[Path], run: list[str], seeds: int, steps: int, guidance: float,
                  refine: Optional[float], out: Path, device: str = "cpu") -> None:
    """``eval prompts``: people's prompts generated and checked on the motion (training/prompts.py)."""
    from backend.eval.prompts import PEOPLE
    from training.prompts import evaluate_prompts, shown_command, write_report

    if len(run) > 1:
        _fail("eval prompts generates with one run: give --run RUN_DIR once")
    with err.status("generating and checking people's prompts"):
        try:
            result = evaluate_prompts(seeds, prompts or PEOPLE, run[0] if run else None, steps=steps,
                                      guidance=guidance, refine=refine, device=device)
        except (ValueError, FileNotFoundError, KeyError) as exc:
            _fail(str(exc))
    path = write_report(result, out, shown_command(seeds, run[0] if run else None, steps, guidance, refine, out))
    console.print(path.read_text(), markup=False, highlight=False, soft_wrap=True)


def _eval_fidelity(data: Path, run: list[str], seeds: int, limit: Optional[int], steps: int, guidance: float,
                   seed: int, out: Path, refine: Optional[float] = None, device: str = "cpu") -> None:
    """``eval fidelity``: generated motion against the ground truth of the same text (training/fidelity.py)."""
    from rich.progress import BarColumn, Progress, TextColumn

    from training.fidelity import evaluate_fidelity, shown_command, write_report

    if len(run) > 1:
        _fail("eval fidelity measures one run: give --run RUN_DIR once")
    with Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def step(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        try:
            result = evaluate_fidelity(data, run[0] if run else None, seeds=seeds, limit=limit, steps=steps,
                                       guidance=guidance, seed=seed, progress=step, refine=refine,
                                       device=device)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    command = shown_command(data, run[0] if run else None, seeds, limit, steps, guidance, seed, out, refine)
    path = write_report(result, out, command, seed=seed)
    console.print(path.read_text(), markup=False, highlight=False, soft_wrap=True)


def _check_writable(*outputs: tuple[str, Optional[Path]]) -> None:
    """Exit 3 with one line unless each given (option, path) output can be written."""
    from .atomic import check_writable

    for option, path in outputs:
        if path is None:
            continue
        try:
            check_writable(path)
        except OSError as exc:
            _error(f"{option} {path}: cannot be written ({exc.filename}: {exc.strerror or exc})", EXIT_IO)


@app.command()
def reconstruct(
    source: Path = typer.Argument(..., help="A video (mp4, webm, mov, avi, gif...) or a pose-format .pose file."),
    out: Path = typer.Option(..., "-o", "--out", help="Output motion (.npz, .npy, .bvh or .pose)."),
    gloss: Optional[str] = typer.Option(None, "--gloss", help="The sign's gloss, stored as the motion's text."),
    denoise: Optional[str] = typer.Option(None, "--denoise", help="signavatar: clean the fit with SignAvatar's reconstruct mode."),
    save_landmarks: Optional[Path] = typer.Option(None, "--save-landmarks", help="Also write the landmarks as a .pose file."),
    start: Optional[float] = typer.Option(None, "--start", help="First second to use."),
    end: Optional[float] = typer.Option(None, "--end", help="Last second to use."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of the result (default: the input's)."),
    no_trim: bool = typer.Option(False, "--no-trim", help="Keep idle lead-in and tail-out frames."),
    preview_png: Optional[Path] = typer.Option(None, "--preview", help="Also draw video frames beside the fit (PNG)."),
    up: str = UpOption,
    skeleton: str = SkeletonOption,
    units: str = UnitsOption,
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Reconstruct SMPL-X signing motion from a video or .pose file (MediaPipe Holistic + fitting).

    Example: signforge reconstruct clip.mp4 -o clip.npz --gloss HELLO --save-landmarks clip.pose
    """
    from .body.model import BodyModelError
    from .io import MotionFileError, save_motion
    from .io.formats import check_save_path
    from .reconstruct import ReconstructError, ReconstructOptions, check_input, get_fitter, input_warnings
    from .reconstruct import reconstruct as run

    options = _export_options(up, skeleton, units)
    try:   # every output is checked before any work: a bad -o never costs a reconstruction
        check_save_path(out)
    except MotionFileError as exc:
        _fail(f"-o {exc}")
    _check_writable(("-o", out), ("--save-landmarks", save_landmarks), ("--preview", preview_png))
    with console.status("reconstructing...") as status:
        def step(done: int, total: int) -> None:
            status.update(f"reconstructing... {100 * done / max(total, 1):.0f}%")

        try:
            asked = ReconstructOptions(start=start, end=end, denoise=denoise, fps=fps, gloss=gloss or "",
                                       smplx=smplx_path, trim=not no_trim)
            check_input(source, start, end)   # before the fitter (torch) loads: a refusal costs no import
            fitter = get_fitter(smplx_path)
            made = run(source, asked, progress=step, fitter=fitter)
            motion = made.motion
            save_motion(motion, out, options=options)
            if save_landmarks is not None:
                made.write_landmarks(save_landmarks)
            if preview_png is not None:
                from .body.rig import Rig
                from .reconstruct.preview import render_side_by_side

                render_side_by_side(source, made, Rig.from_body(fitter.body, motion.betas).rest_joints,
                                    preview_png, body=fitter.body)
        except (ReconstructError, MotionFileError, BodyModelError) as exc:
            _fail(str(exc))
    for note in input_warnings(motion):
        err.print(Text.assemble(("warning:", "bold yellow"), " ", printable(note)), soft_wrap=True)
    t = made.timings
    console.print(f"wrote {out} ({motion.num_frames} frames at {motion.fps:g} fps; "
                  f"kept frames {made.trimmed[0]}-{made.trimmed[1] - 1} of {made.frames_in})")
    console.print(f"hands found: left {made.left_hand_found:.0%}, right {made.right_hand_found:.0%} "
                  f"of frames; reprojection error {made.reprojection_px:.1f} px")
    q = made.quality()
    if "confidence_mean" in q:
        hands = (f" (left {q['left_confidence_mean']:.2f}, right {q['right_confidence_mean']:.2f})"
                 if "left_confidence_mean" in q else "")
        console.print(f"confidence: mean {q['confidence_mean']:.2f}{hands}, lowest {q['confidence_min']:.2f}")
    console.print("time: " + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in t.items()))
    if save_landmarks is not None:
        console.print(f"wrote {save_landmarks}")
    if preview_png is not None:
        console.print(f"wrote {preview_png}")


@app.command("reconstruct-batch")
def reconstruct_batch_cmd(
    video_dir: Path = typer.Argument(..., help="Folder of the videos (or .pose files) the labels name."),
    labels: Path = typer.Option(..., "--labels",
                                help="WLASL_v0.3.json-style JSON (VIDEO_DIR/<video_id>.mp4, or .pose) or a CSV "
                                     "with a file,gloss header (optional columns: start, end in seconds, "
                                     "split, signer_id)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder (created; an unfinished one is resumed)."),
    workers: int = typer.Option(2, help="Worker processes, each single-threaded."),
    seed: int = typer.Option(0, help="Seed for splits and text wording: the same seed gives the same dataset."),
    shard_size: int = typer.Option(32, help="Items per shard file: the most work an interruption loses."),
    texts: int = typer.Option(3, help="Free-text descriptions per sample."),
    smplx_path: Optional[Path] = SmplxOption,
    engine: str = EngineOption,
    address: Optional[str] = AddressOption,
) -> None:
    """Reconstruct labelled sign videos into a data-factory dataset that `signforge train` reads.

    Each video becomes a 25 fps SMPL-X motion with per-frame confidence and its texts: the word (gloss condition)
    and descriptions of the HMS cues and nearest handshapes measured on the motion, which never name the word.

    WLASL frames are 1-based (frame_end -1: to the end) and count the file's own frames.
    A file exactly as long as its range was already cut out by WLASL's preprocess.py and is used whole.

    Splits: WLASL's split field (train -> train, val and test -> test_seen); without one, as data build draws them:
    10% of the words to test_unseen (only with 10 or more words), 10% of the other items to test_seen (by --seed).

    A file that cannot be reconstructed is skipped with its reason. A rerun skips the finished shards.

    Example: signforge reconstruct-batch WLASL/videos --labels WLASL_v0.3.json --out data/wlasl
    """
    from collections import Counter

    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .engine import Engine
    from .reconstruct.batch import BatchConfig, BatchError, reconstruct_batch

    cfg = BatchConfig(video_dir=str(video_dir), labels=str(labels), out=str(out), workers=workers, seed=seed,
                      shard_size=shard_size, texts_per_sample=texts,
                      smplx=str(smplx_path) if smplx_path else None)
    where = Engine(engine, address)
    _check_writable(("--out", out / "dataset.json"))   # before any work
    with Progress(TextColumn("[bold]reconstructing[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("videos", total=None)
        try:
            manifest = reconstruct_batch(
                cfg, progress=lambda done, total: bar.update(task, completed=done, total=total),
                log=lambda message: bar.console.print(f"[yellow]{escape(message)}[/]", highlight=False),
                engine=where)
        except BatchError as exc:
            _fail(str(exc))
    rec, run = manifest["reconstruction"], manifest["run"]
    skipped = rec["skipped"]
    console.print(f"wrote {out}: {rec['done']} done, {len(skipped)} skipped, {rec['items']} in all "
                  f"(this run: {run['processed']} processed, {run['already_finished']} finished before); "
                  f"splits {manifest['splits']}", markup=False, highlight=False)
    reasons = Counter(s["reason"].split(": ", 1)[-1] if s["reason"].startswith(str(video_dir)) else s["reason"]
                      for s in skipped)
    for reason, n in reasons.most_common(10):
        example = next(s["id"] for s in skipped if s["reason"].endswith(reason))
        console.print(f"  skipped {n} x {reason} (e.g. {example})", markup=False, highlight=False)
    if len(reasons) > 10:
        console.print(f"  ... {len(reasons) - 10} other reasons; every one is in {out / 'dataset.json'}",
                      markup=False, highlight=False)
    mean, never = rec["hand_found_mean"], rec["hand_never_found"]
    console.print(f"hands found: left {mean['left']:.0%}, right {mean['right']:.0%} of frames on average; "
                  f"left never found in {never['left']}, right in {never['right']} of {rec['done']} samples; "
                  f"mean confidence {rec['confidence_mean']:.2f}", markup=False, highlight=False)
    console.print(f"time: {run['seconds']:.1f} s; {run['reconstructed']} reconstructed this run, "
                  f"{run['seconds_per_sample']:.1f} s each in a worker ({workers} workers)",
                  markup=False, highlight=False)


@app.command("sentence")
def sentence_cmd(
    items: Optional[list[str]] = typer.Argument(None, help="The signs in order: each a description, a dictionary "
                                                           "EntryID (castle_2) or a motion file."),
    out: Path = typer.Option(..., "-o", "--out", help="Output motion (.npz, .npy or .bvh)."),
    items_file: Optional[Path] = typer.Option(None, "--items", help="A file of items: one per line ('#' and "
                                                                     "blank lines skipped), or a JSON list of "
                                                                     "strings or objects with seconds/transition."),
    method: str = typer.Option("inpaint", help="Transitions: inpaint (HandMDM inpaints them and its movement "
                                               "goes onto a minimum-jerk blend, within the speed bars), blend "
                                               "(the blend alone), raw (HandMDM as it draws) or linear "
                                               "(straight from pose to pose)."),
    strength: float = typer.Option(1.0, help="How far up the schedule the blend is noised before HandMDM "
                                             "redraws it (1: from noise)."),
    transition: Optional[float] = typer.Option(None, "--transition", help="Seconds of every transition "
                                                                          "(default: from the distance)."),
    seed: int = typer.Option(0, help="Item k is made with seed + k."),
    hand: str = typer.Option("auto", "--hand", help="Dominant hand for items that name none: left, right, auto."),
    steps: int = typer.Option(50, help="Sampling steps per transition (DDIM)."),
    guidance: float = typer.Option(2.5, help="Classifier-free guidance scale."),
    lexicon: Optional[Path] = LexiconOption,
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Sign a sentence: the items' signs kept as made, joined by generated transitions, never back at rest.

    Each span (sign or transition: start, end, source) is in the motion's provenance ("sentence").
    Example: signforge sentence "the right fist taps the chin twice" castle_2 "wave the flat hand" -o s.npz
    Example: signforge sentence --items sentence.json -o s.npz
    """
    from .body.model import Body, BodyModelError
    from .io import MotionFileError, save_motion
    from .io.formats import WRITE_SUFFIXES
    from .sentence import SentenceError, read_items, sentence

    if out.suffix.lower() not in WRITE_SUFFIXES:
        _fail(f"-o {out}: unknown extension {out.suffix or '(none)'!r}; writable: {', '.join(WRITE_SUFFIXES)}")
    if bool(items) == (items_file is not None):
        _fail("give the items as arguments or --items FILE (one of them)")
    try:
        todo = read_items(items_file) if items_file is not None else list(items)
        body = Body.load(smplx_path)
        motion = sentence(todo, seed=seed, hand=None if hand == "auto" else hand, method=method,
                          strength=strength, transition_seconds=transition, steps=steps, guidance=guidance,
                          lexicon=lexicon, body=body)
        save_motion(motion, out, body=body if out.suffix.lower() == ".bvh" else None)
    except (SentenceError, BodyModelError, MotionFileError) as exc:
        _fail(str(exc))
    import json

    for span in json.loads(motion.provenance["sentence"]):
        what = span.get("source") or f"transition ({span['method']}" + (
            f", model share {span['model_share']:g})" if "model_share" in span else ")")
        console.print(f"{span['start']:>5}-{span['end']:<5} {what}", markup=False, highlight=False)
    console.print(f"wrote {out} ({motion.num_frames} frames, {motion.duration:.2f} s)", markup=False, highlight=False)


@app.command("edit")
def edit_cmd(
    motion_file: Path = typer.Argument(..., help="The take to edit (.npz, .npy or .bvh)."),
    text: str = typer.Option(..., "--text", help="What the regenerated part does."),
    out: Path = typer.Option(..., "-o", "--out", help="Output motion (.npz, .npy or .bvh)."),
    frames: Optional[str] = typer.Option(None, "--frames", help="Frames A:B to redo (A first, B one past the last)."),
    joints: Optional[str] = typer.Option(None, "--joints", help="Joints or groups to redo, comma-separated: "
                                                               "right_hand, left_hand, hands, right_arm, "
                                                               "left_arm, arms, torso, face, or joint names."),
    arms: bool = typer.Option(False, "--arms", help="Redo both arms (collar to wrist) but not the fingers."),
    seed: int = typer.Option(0),
    strength: float = typer.Option(0.5, help="How far up the schedule the text's plan is noised before HandMDM "
                                             "redraws the part (1: from noise)."),
    steps: int = typer.Option(50, help="Sampling steps (DDIM)."),
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Regenerate only part of a take from a new text; every other channel stays bit-exact.

    Example: signforge edit tap.npz --joints right_hand --text "a flat right hand" -o flat.npz
    Example: signforge edit tap.npz --frames 20:35 --text "the right fist taps the chin twice" -o tap2.npz
    """
    from .body.model import Body, BodyModelError
    from .edit import EditError, edit, parse_frames
    from .io import MotionFileError, load_motion, save_motion
    from .io.formats import WRITE_SUFFIXES

    if out.suffix.lower() not in WRITE_SUFFIXES:
        _fail(f"-o {out}: unknown extension {out.suffix or '(none)'!r}; writable: {', '.join(WRITE_SUFFIXES)}")
    if arms and joints:
        _fail("give --arms or --joints, not both")
    try:
        span = parse_frames(frames) if frames is not None else None
        take = load_motion(motion_file)
        body = Body.load(smplx_path)
        result = edit(take, text, frames=span, joints="arms" if arms else joints, seed=seed, strength=strength,
                      steps=steps, body=body)
        save_motion(result, out, body=body if out.suffix.lower() == ".bvh" else None)
    except (EditError, BodyModelError, MotionFileError) as exc:
        _fail(str(exc))
    console.print(f"wrote {out} ({result.num_frames} frames; redone: {result.provenance['edited']})",
                  markup=False, highlight=False)


@app.command("parse")
def parse_cmd(
    text: str = typer.Argument(..., help="A description of a sign or hand motion, in English."),
    parser_dir: Optional[Path] = typer.Option(None, "--parser", help="A scene-parser folder (default: the shipped "
                                                                      "backend/weights/scene-parser)."),
) -> None:
    """Print the scene the learned parser reads from TEXT: each field, its label and confidence.

    Fields: the signing hand (side), one hand / both / a base hand (hands), handshapes, the place and
    whether it is touched, the action and its directions and count, a movement after the contact
    (then), and the fingers opening or closing. The runner-up is shown when the parser is unsure.
    The last lines are what a take signs; a text that asks for parts in turn ("..., then ...")
    has one line per part.

    Example: signforge parse "The left fist taps the chin twice."
    """
    from .plan.parse import FIELDS, ParseError, load_parser
    from .plan.planner import Planner, describe_scene

    try:
        parser = load_parser(parser_dir)
        parsed = parser.parse(text)
        planned = [scene for scene, _ in Planner(parser).read_parts(text)]
    except ParseError as exc:
        _fail(str(exc))
    for f in FIELDS:
        ranked = list(parsed.probs(f).items())
        line = f"{f:<11} {ranked[0][0]:<16} {ranked[0][1]:.2f}"
        if ranked[0][1] < 0.8 and len(ranked) > 1:
            line += f"   (next: {ranked[1][0]} {ranked[1][1]:.2f})"
        console.print(Text(printable(line)), soft_wrap=True)
    for k, scene in enumerate(planned):
        name = "planned" if len(planned) == 1 else f"part {k + 1}"
        console.print(Text(printable(f"{name:<11} {describe_scene(scene)}   (what a take signs: the reading "
                                     f"with the prompt's plain words applied{', in turn' if k else ''})")),
                      soft_wrap=True)


def main() -> None:
    """The process's entry point: ``_main``, then an exit without the interpreter's teardown
    (``_leave``); a Ctrl-C leaves the usual way. Threads come from the cores free now, with
    passive OpenMP waiting (``backend.threads``), before any command loads torch."""
    from .threads import prepare

    prepare()
    try:
        _main()
    except SystemExit as done:
        if isinstance(done.code, int) and done.code != EXIT_INTERRUPTED:
            _leave(done.code)
        raise


def _leave(code: int) -> None:
    """Exit with ``code`` at once, once the command's output is out: freeing every module and
    tensor at interpreter exit costs about 1.5 s after torch was loaded, and saves nothing.

    Every file is closed by then (writers close theirs inside ``backend.atomic``'s blocks, which
    the command has left), stdout and stderr are flushed, and the atexit handlers still run
    (multiprocessing's, logging's, a caller's). Where that cannot be done safely (another
    thread still working, a stream that cannot be flushed) Python exits as usual."""
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()   # what a normal exit runs first; it empties the list
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):   # a closed pipe or stream: Python's own exit reports it as before
        return
    os._exit(code)


def _main() -> None:
    """The CLI's one error boundary: every failure is one line and an exit code; ``--debug``
    (anywhere on the line) or SIGNFORGE_DEBUG=1 shows the traceback instead."""
    debug = "--debug" in sys.argv[1:] or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    sys.argv[1:] = [a for a in sys.argv[1:] if a != "--debug"]
    try:
        code = app(standalone_mode=False)   # usage errors come here too, to be said in one line
        if code == EXIT_INTERRUPTED:           # typer turns Ctrl-C into exit code 130
            err.print("interrupted", soft_wrap=True)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:   # Ctrl-C at a prompt
        err.print("interrupted", soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
    except typer.TyperException as exc:   # typer's (vendored click's) usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":   # a bare command group: its help
            exc.show()
            sys.exit(0)
        context = getattr(exc, "ctx", None)
        command = f"{context.command_path}: " if context is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(Text.assemble(("error:", "bold red"), " ", printable(command + message)), soft_wrap=True)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        err.print("interrupted", soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:   # noqa: BLE001  (the boundary: nothing else reaches the user)
        if debug:
            raise
        try:
            if isinstance(exc, SignForgeError):   # what the user can fix: its line and its code
                _error(str(exc), exc.exit_code)
            if isinstance(exc, OSError):
                where = f"{exc.filename}: " if exc.filename else ""
                _error(f"{where}{exc.strerror or exc}", EXIT_IO)
            if isinstance(exc, MemoryError):
                _error("out of memory; try a shorter motion, fewer variants or a smaller batch", EXIT_MEMORY)
            _error(f"internal error ({type(exc).__name__}: {exc}); rerun with --debug or {DEBUG_ENV}=1 for the "
                   f"traceback", EXIT_BUG)
        except typer.Exit as done:
            sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
