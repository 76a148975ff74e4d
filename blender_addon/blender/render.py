"""Cameras, lights and output settings for rendering a signing armature. Imports bpy.

Camera presets (``CAMERAS``) frame what a viewer judges: the full body, the upper body (the
signing space, head to hips), both hands, one hand, or the upper body seen from the signer's
right side, where depth shows. Each camera is fitted to the joints it frames over every frame
of the take (fingertips extrapolated past the last finger joints), with a margin, for the
scene's aspect ratio. The hand close-ups (``FOLLOW``) follow the hands instead: the camera
keeps one distance, sized to the hands themselves, and moves with their smoothed centre over
the frames where they sign (above the waist), holding still while they rest, so a handshape
fills the frame wherever in the signing space it is made.
Lighting is a key, a fill and a rim light on a neutral background; Workbench uses studio
light; Cycles denoises with OpenImageDenoise when the build has it. Renders run with
Blender's per-frame stdout lines ("Fra:", "Video append frame N") silenced.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from .body import body_mesh

ENGINES = {"workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE", "cycles": "CYCLES"}
# preset -> what it shows (the help text and README say the same)
CAMERAS = {"full": "the full body, from the front",
           "upper": "the upper body and hands (head to hips), from the front",
           "hands": "both hands, close up, from the front",
           "right": "the right hand, close up, from the front",
           "left": "the left hand, close up, from the front",
           "side": "the upper body and hands from the signer's right side (depth)"}
UPPER = ("head", "neck", "spine3", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
         "left_wrist", "right_wrist")
FINGERS = ("index", "middle", "ring", "pinky", "thumb")
SKIN = (0.80, 0.62, 0.52, 1.0)
BACKGROUND = (0.16, 0.17, 0.19)
HEAD_TOP = 0.14    # the skull above the head joint, m
TIP = 0.9          # a fingertip lies this many distal-to-middle segment lengths past the distal joint
HAND_PAD = 0.035   # skin and palm around the hand joints, m
FOLLOW = ("hands", "right", "left")   # close-ups that follow the signing hands
FOLLOW_SMOOTH_S = 0.25                # a follow camera's centre is a moving average over this long
FOLLOW_MARGIN = 1.5                   # ... and it frames the hands this many times their own extent


def hand_joints(side: str) -> tuple[str, ...]:
    return (f"{side}_wrist",) + tuple(f"{side}_{f}{k}" for f in FINGERS for k in (1, 2, 3))


@dataclass(frozen=True)
class RenderSettings:
    engine: str = "workbench"
    width: int = 640
    height: int = 480
    format: str = "mp4"     # mp4 or png
    samples: int = 32       # Cycles and EEVEE
    cameras: tuple[str, ...] = ("upper",)   # presets of CAMERAS; the first is the scene's

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose {', '.join(ENGINES)}")
        if self.format not in ("mp4", "png"):
            raise ValueError(f"unknown format {self.format!r}; choose mp4 or png")
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise ValueError(f"resolution {self.width}x{self.height} is out of range (16 to 8192 pixels)")
        if not 1 <= self.samples <= 4096:
            raise ValueError(f"samples {self.samples} is out of range (1 to 4096)")
        bad = [c for c in self.cameras if c not in CAMERAS]
        if bad or not self.cameras:
            raise ValueError(f"unknown camera {', '.join(bad) or '(none)'}; choose from {', '.join(CAMERAS)}")


def joint_track(scene, armature, max_frames: int = 400) -> dict[str, np.ndarray]:
    """World positions of every bone head at every frame of the scene's range, (F, 3) per bone,
    plus ``*_tip`` fingertips extrapolated from the last two finger joints. Takes longer than
    ``max_frames`` are sampled evenly (first and last frames kept)."""
    frames = track_frames(scene, max_frames)
    names = [b.name for b in armature.pose.bones]
    current = scene.frame_current
    out = np.empty((len(frames), len(names), 3))
    for i, f in enumerate(frames):
        scene.frame_set(int(f))
        mw = np.array(armature.matrix_world)
        heads = np.array([tuple(armature.pose.bones[b].head) for b in names])
        out[i] = heads @ mw[:3, :3].T + mw[:3, 3]
    scene.frame_set(current)
    track = {b: out[:, j] for j, b in enumerate(names)}
    for side in ("left", "right"):
        for f in FINGERS:
            a, b = track.get(f"{side}_{f}2"), track.get(f"{side}_{f}3")
            if a is not None and b is not None:
                track[f"{side}_{f}_tip"] = b + TIP * (b - a)
    return track


def track_frames(scene, max_frames: int = 400) -> np.ndarray:
    """The scene frames ``joint_track`` samples: every frame of the range, or ``max_frames`` of
    them evenly (first and last kept)."""
    n = scene.frame_end - scene.frame_start + 1
    return np.unique(np.linspace(scene.frame_start, scene.frame_end, min(n, max_frames)).round().astype(int))


def _points(track: dict[str, np.ndarray], names) -> np.ndarray:
    return np.concatenate([track[n] for n in names if n in track]) if any(n in track for n in names) \
        else np.zeros((0, 3))


def signing(track: dict[str, np.ndarray], side: str) -> np.ndarray:
    """Frames where the ``side`` hand is in signing space: its wrist above the waist (the
    spine1 joint; pelvis + 0.1 m without one). A hand hanging at rest is below it."""
    wrist = track.get(f"{side}_wrist")
    if wrist is None:
        return np.zeros(0, bool)
    waist = track["spine1"][:, 2] if "spine1" in track else \
        track["pelvis"][:, 2] + 0.1 if "pelvis" in track else np.full(len(wrist), -np.inf)
    return wrist[:, 2] > waist


def preset_points(preset: str, track: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """The world points a preset keeps in frame over the take, and the padding around them (m).

    A close-up frames each hand over the frames where it signs (``signing``), so a take that
    starts and ends at rest, or a hand that never leaves it, does not shrink the hands to the
    size of the upper-body view; a take where no framed hand ever signs uses every frame."""
    hands = {s: hand_joints(s) + tuple(f"{s}_{f}_tip" for f in FINGERS) for s in ("left", "right")}
    if preset in ("right", "left", "hands"):
        sides = ("left", "right") if preset == "hands" else (preset,)
        masks = {s: signing(track, s) for s in sides}
        if not any(m.any() for m in masks.values()):
            masks = {s: slice(None) for s in sides}
        pts = [track[n][masks[s]] for s in sides for n in hands[s] if n in track]
        return (np.concatenate(pts) if pts else np.zeros((0, 3))), HAND_PAD
    top = _points(track, ("head",)) + (0.0, 0.0, HEAD_TOP)
    if preset == "full":
        return np.concatenate([np.stack(list(track.values())).reshape(-1, 3), top]), 0.08
    # upper and side: the signing space as sign videos frame it, head to hips; hands hanging
    # at rest may leave it
    pts = np.concatenate([_points(track, UPPER + hands["left"] + hands["right"]), top])
    if "pelvis" in track:
        pts = pts.copy()
        pts[:, 2] = np.maximum(pts[:, 2], track["pelvis"][:, 2].min() - 0.12)
    return pts, 0.06


def view_direction(preset: str, track: dict[str, np.ndarray]) -> Vector:
    """Where the camera looks: at the body's front (+Y; the body faces -Y), or for ``side``
    from the signer's right side towards the body."""
    if preset != "side":
        return Vector((0.0, 1.0, 0.0))
    right = track["right_shoulder"].mean(0) - track["left_shoulder"].mean(0) \
        if "right_shoulder" in track and "left_shoulder" in track else np.array([-1.0, 0.0, 0.0])
    right[2] = 0.0
    right /= np.linalg.norm(right) or 1.0
    return Vector(tuple(-right))


def _new_camera(scene, name: str, direction: Vector, lens: float):
    """A camera object linked to ``scene`` (36 mm sensor, horizontal fit) and the rotation
    matrix that looks along ``direction`` with +Y up."""
    data = bpy.data.cameras.new(name)
    data.lens, data.sensor_width, data.sensor_fit = lens, 36.0, "HORIZONTAL"
    data.clip_start, data.clip_end = 0.01, 100.0
    cam = bpy.data.objects.new(name, data)
    scene.collection.objects.link(cam)
    return cam, direction.to_track_quat("-Z", "Y").to_matrix()


def fit_camera(scene, points: np.ndarray, direction: Vector, name: str, pad: float = 0.05,
               margin: float = 1.1, lens: float = 50.0):
    """A camera looking along ``direction`` that keeps every point (plus ``pad`` metres, then
    ``margin`` times the half-extent) inside the frame at the scene's aspect ratio."""
    cam, rot = _new_camera(scene, name, direction, lens)
    right, up, fwd = (np.array(rot.col[0]), np.array(rot.col[1]), -np.array(rot.col[2]))
    aspect = scene.render.resolution_x / scene.render.resolution_y
    tan_w = 18.0 / lens                       # half-width over depth, horizontal sensor fit
    tan_h = tan_w / aspect
    pts = np.asarray(points, float)
    x, y = pts @ right, pts @ up
    center = ((x.max() + x.min()) / 2) * right + ((y.max() + y.min()) / 2) * up
    rel = pts - center
    x, y, d = rel @ right, rel @ up, rel @ fwd
    d0 = d.mean()
    rel_d = d - d0
    # the camera sits at depth -D from the points' mean plane: each point needs
    # |x| * margin + pad <= tan_w * (D + rel_d), and the same for y with tan_h
    need = np.maximum((np.abs(x) * margin + pad) / tan_w, (np.abs(y) * margin + pad) / tan_h) - rel_d
    dist = max(float(need.max()), float(rel_d.max()) + pad + 0.1, 0.2)
    cam.matrix_world = rot.to_4x4()
    cam.location = Vector(tuple(center + (d0 - dist) * fwd))
    return cam


def follow_path(preset: str, track: dict[str, np.ndarray]) -> tuple[list, np.ndarray]:
    """A follow close-up's points at each tracked frame (the hands of ``preset`` that sign
    there; none where none does) and which frames they are: ([(K_i, 3)], (F,) bool). Takes where
    no framed hand ever signs follow the hands at every frame."""
    sides = ("left", "right") if preset == "hands" else (preset,)
    names = {s: [n for n in hand_joints(s) + tuple(f"{s}_{f}_tip" for f in FINGERS) if n in track] for s in sides}
    frames = len(next(iter(track.values())))
    masks = {s: signing(track, s) if names[s] else np.zeros(frames, bool) for s in sides}
    if not any(m.any() for m in masks.values()):
        masks = {s: np.full(frames, bool(names[s])) for s in sides}
    points = [np.concatenate([track[n][i:i + 1] for s in sides if masks[s][i] for n in names[s]] or
                             [np.zeros((0, 3))]) for i in range(frames)]
    return points, np.array([len(p) > 0 for p in points])


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """(F, D) values averaged over ``width`` neighbouring frames (edges held)."""
    if width <= 1 or len(x) < 2:
        return x
    half = width // 2
    padded = np.concatenate([np.repeat(x[:1], half, 0), x, np.repeat(x[-1:], half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(x.shape[1])], 1)


def follow_camera(scene, points: list, shown: np.ndarray, frames: np.ndarray, direction: Vector, name: str,
                  pad: float = HAND_PAD, margin: float = FOLLOW_MARGIN, lens: float = 50.0, smooth: int = 1):
    """A camera looking along ``direction`` at one distance that follows ``points`` (a list of
    (K_i, 3) per scene frame in ``frames``): its location is keyed at each frame on the centre
    of that frame's points (and at its distance in front of their mean depth), averaged over
    ``smooth`` frames and held over frames without any (``shown`` False). The distance is the
    least that frames every frame's points, plus ``pad``, ``margin`` times over around their
    own centre at the scene's aspect ratio: sized to the hands, not to their path, whose fast
    stretches (a hand rising from rest) may lag the averaged centre."""
    from ..core.motion import Channel
    from .animate import _channelbag, _slot, write_channels

    cam, rot = _new_camera(scene, name, direction, lens)
    axes = np.array([tuple(rot.col[0]), tuple(rot.col[1]), tuple(-rot.col[2])])   # right, up, forward
    aspect = scene.render.resolution_x / scene.render.resolution_y
    tan_w = 18.0 / lens
    tan_h = tan_w / aspect
    seen = np.flatnonzero(shown)
    centre = np.zeros((len(frames), 3))   # right, up: the box's middle; depth: the points' mean
    for i in seen:
        local = points[i] @ axes.T
        centre[i] = [*(local[:, :2].max(0) + local[:, :2].min(0)) / 2, local[:, 2].mean()]
    rel = np.concatenate([(points[i] @ axes.T) - centre[i] for i in seen])
    nearest = seen[np.abs(np.arange(len(frames))[:, None] - seen[None, :]).argmin(1)]
    centre = _smooth(centre[nearest], smooth)
    rel_d = rel[:, 2]
    need = np.maximum((np.abs(rel[:, 0]) * margin + pad) / tan_w, (np.abs(rel[:, 1]) * margin + pad) / tan_h) - rel_d
    dist = max(float(need.max()), float(rel_d.max()) + pad + 0.1, 0.2)
    cam.matrix_world = rot.to_4x4()
    where = centre @ axes - dist * axes[2]
    action = bpy.data.actions.new(name)
    slot = _slot(action, "OBJECT", name)
    chans = []
    for k in range(3):
        co = np.empty(2 * len(frames), np.float32)
        co[0::2], co[1::2] = frames, where[:, k]
        chans.append(Channel("location", k, "Object Transforms", co))
    write_channels(_channelbag(action, slot), chans)
    anim = cam.animation_data_create()
    anim.action, anim.action_slot = action, slot
    return cam


def add_cameras(scene, armature, presets) -> dict[str, object]:
    """One camera per preset (``CAMERAS``), fitted over the whole take, the close-ups following
    the hands (``FOLLOW``); the first is active."""
    track = joint_track(scene, armature)
    frames = track_frames(scene)
    fps = scene.render.fps / scene.render.fps_base
    step_s = float(np.diff(frames).mean()) / fps if len(frames) > 1 else 1.0
    cams = {}
    for preset in presets:
        name = f"SignForge camera {preset}"
        if preset in FOLLOW:
            points, shown = follow_path(preset, track)
            if not shown.any():
                raise ValueError(f"camera {preset!r}: the armature has none of the joints it frames")
            width = max(1, int(round(FOLLOW_SMOOTH_S / step_s)))
            cams[preset] = follow_camera(scene, points, shown, frames, view_direction(preset, track), name,
                                         smooth=width)
            continue
        pts, pad = preset_points(preset, track)
        if not len(pts):
            raise ValueError(f"camera {preset!r}: the armature has none of the joints it frames")
        cams[preset] = fit_camera(scene, pts, view_direction(preset, track), name, pad)
    scene.camera = cams[presets[0]]
    return cams


def frame_camera(scene, armature, preset: str = "upper"):
    """A camera fitted for ``preset``, made the scene's camera; returns it."""
    return add_cameras(scene, armature, (preset,))[preset]


def add_lights(scene, target: Vector) -> None:
    def light(name, kind, energy, location, size=1.0):
        data = bpy.data.lights.new(name, kind)
        data.energy = energy
        if kind == "AREA":
            data.size = size
        ob = bpy.data.objects.new(name, data)
        scene.collection.objects.link(ob)
        ob.location = location
        direction = target - Vector(location)
        ob.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
        return ob

    light("SignForge key", "AREA", 70.0, target + Vector((-1.2, -1.8, 1.0)), 1.5)
    light("SignForge fill", "AREA", 25.0, target + Vector((1.5, -1.5, 0.3)), 2.0)
    light("SignForge rim", "AREA", 40.0, target + Vector((0.3, 1.5, 1.2)), 1.0)


def skin_material(mesh_ob) -> None:
    mat = bpy.data.materials.get("SignForge skin") or bpy.data.materials.new("SignForge skin")
    mat.diffuse_color = SKIN
    if mat.node_tree is None:
        mat.use_nodes = True
    bsdf = next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = SKIN
        bsdf.inputs["Roughness"].default_value = 0.55
    if not mesh_ob.data.materials:
        mesh_ob.data.materials.append(mat)


def has_denoiser() -> bool:
    """Whether this Cycles build has OpenImageDenoise (CPU)."""
    try:
        import _cycles
    except ImportError:
        return False
    return bool(getattr(_cycles, "with_openimagedenoise", False))


def setup(scene, armature, settings: RenderSettings) -> dict[str, object]:
    """Engine, resolution, cameras, lights and materials for ``armature``'s current action.
    Returns the cameras by preset; the first of ``settings.cameras`` is the scene's camera."""
    settings.check()
    r = scene.render
    engine = ENGINES[settings.engine]
    if engine == "BLENDER_EEVEE" and bpy.app.version < (5, 0, 0):
        engine = "BLENDER_EEVEE_NEXT"   # EEVEE's identifier in Blender 4.2 to 4.5
    r.engine = engine
    r.resolution_x, r.resolution_y, r.resolution_percentage = settings.width, settings.height, 100
    r.film_transparent = False
    world = scene.world or bpy.data.worlds.new("SignForge world")
    scene.world = world
    world.color = BACKGROUND
    if settings.engine == "workbench":
        shading = scene.display.shading
        shading.light, shading.color_type = "STUDIO", "SINGLE"
        shading.single_color = SKIN[:3]
        shading.background_type = "WORLD"
        shading.show_cavity = True
    elif settings.engine == "cycles":
        scene.cycles.device = "CPU"
        scene.cycles.samples = settings.samples
        scene.cycles.use_denoising = has_denoiser()
        if scene.cycles.use_denoising:
            scene.cycles.denoiser = "OPENIMAGEDENOISE"
    else:
        scene.eevee.taa_render_samples = settings.samples
    mesh = body_mesh(armature)
    if mesh is not None:
        skin_material(mesh)
    cams = add_cameras(scene, armature, settings.cameras)
    target = armature.matrix_world.translation.copy()
    if "spine3" in armature.pose.bones:
        target = armature.matrix_world @ armature.pose.bones["spine3"].head
    add_lights(scene, target)
    return cams


def _media(im, kind: str) -> None:
    """Blender 5.0 chooses image or video (``media_type``) before the file format; 4.x lists
    FFMPEG among the image formats and has no ``media_type``."""
    if hasattr(im, "media_type"):
        im.media_type = kind


def output(scene, path: Path, fmt: str) -> Path:
    """Point the render output at ``path`` (an .mp4 file, or a folder of PNG frames)."""
    im = scene.render.image_settings
    if fmt == "mp4":
        _media(im, "VIDEO")
        im.file_format = "FFMPEG"
        ff = scene.render.ffmpeg
        ff.format, ff.codec = "MPEG4", "H264"
        ff.constant_rate_factor = "MEDIUM"
        scene.render.filepath = str(path.with_suffix(".mp4"))
        return path.with_suffix(".mp4")
    _media(im, "IMAGE")
    im.file_format = "PNG"
    path.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(path / "frame_####")
    return path


@contextlib.contextmanager
def quiet_stdout():
    """Send the process's C-level stdout to /dev/null: Blender prints a line per rendered
    frame ("Fra:", "Video append frame N", "Saved:", "Time:") there. Errors go to stderr and
    Python exceptions still propagate."""
    sys.stdout.flush()
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(fd)
    except (OSError, ValueError):   # no real stdout (embedded, closed): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)


def render(scene, path: Path, fmt: str, camera=None, quiet: bool = True) -> Path:
    """Render the scene's frame range with ``camera`` (default: the scene's) to ``path``."""
    if camera is not None:
        scene.camera = camera
    target = output(scene, path, fmt)
    with quiet_stdout() if quiet else contextlib.nullcontext():
        bpy.ops.render.render(animation=True, scene=scene.name)
    return target


def render_still(scene, path: Path, frame: int | None = None, camera=None, quiet: bool = True) -> Path:
    """One PNG frame (tests and thumbnails)."""
    if camera is not None:
        scene.camera = camera
    im = scene.render.image_settings
    _media(im, "IMAGE")
    im.file_format = "PNG"
    if frame is not None:
        scene.frame_set(frame)
    scene.render.filepath = str(path)
    with quiet_stdout() if quiet else contextlib.nullcontext():
        bpy.ops.render.render(write_still=True, scene=scene.name)
    return path
