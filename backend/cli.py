"""``signforge``: the command-line tool (typer). Thin: parse, call the backend, report.

May import torch and smplx through the backend; never bpy.
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

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SignForge: SMPL-X signing and hand animation from the command line.")
body_app = typer.Typer(no_args_is_help=True, help="The SMPL-X body: mannequin and sites.")
app.add_typer(body_app, name="body")
console = Console()
err = Console(stderr=True)

SmplxOption = typer.Option(None, "--smplx", envvar="SIGNFORGE_SMPLX",
                           help="SMPLX_NEUTRAL.npz or its folder; default: the built-in mannequin.")


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


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
        table.add_row("text", motion.text)
    if motion.confidence is not None:
        table.add_row("confidence", f"mean {motion.confidence.mean():.2f}, "
                                    f"min {motion.confidence.min():.2f}")
    for k, v in motion.provenance.items():
        table.add_row(f"provenance.{k}", v)
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
    src: Path = typer.Argument(..., help="Input motion: .npz (AMASS/SMPL-X) or .npy (HandMDM)."),
    dst: Path = typer.Argument(..., help="Output: .npz, .npy (HandMDM) or .bvh."),
    fps: Optional[float] = typer.Option(None, help="Resample to this frame rate."),
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """Convert a motion between .npz, HandMDM .npy and .bvh.

    Example: signforge convert wave.npz wave.bvh --fps 30
    """
    from .body.model import Body, BodyModelError
    from .io import MotionFileError, load_motion, save_motion

    try:
        motion = load_motion(src)
        if fps is not None:
            motion = motion.resample(fps)
        body = Body.load(smplx_path) if dst.suffix.lower() == ".bvh" else None
        save_motion(motion, dst, body=body)
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


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), help="Folder for the demo's files."),
    smplx_path: Optional[Path] = SmplxOption,
) -> None:
    """The main job on built-in defaults: mannequin, a motion, its BVH, a summary.

    Example: signforge demo --out out/demo
    """
    from .body.mannequin import export_mannequin
    from .body.model import Body, BodyModelError
    from .io import load_motion, save_motion
    from .motion.builtin import wave

    model_file = export_mannequin(out / "models")
    try:
        body = Body.load(smplx_path)
    except BodyModelError as exc:
        _fail(str(exc))
    motion = wave()
    npz = save_motion(motion, out / "wave.npz")
    npy = save_motion(motion, out / "wave_handmdm.npy")
    bvh = save_motion(load_motion(npz), out / "wave.bvh", body=body)
    posed = body.pose(motion)
    sites = body.sites.as_dict(posed.vertices)
    reach = np.linalg.norm(sites["right_palm"] - sites["chin"], axis=-1)
    console.rule("SignForge demo")
    console.print(f"body: {body.source} ({body.num_vertices} vertices)")
    console.print(f"mannequin model: {model_file}")
    for p in (npz, npy, bvh):
        console.print(f"wrote {p} ({p.stat().st_size / 1024:.0f} KiB)")
    console.print(_describe(motion))
    console.print(f"right palm to chin: {reach.min() * 100:.1f} .. {reach.max() * 100:.1f} cm")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
