"""Camera, light and output settings for rendering a signing armature. Imports bpy.

The camera frames the upper body and the hands over the whole action (head, shoulders,
elbows, wrists and fingertips, sampled across the frame range), from the front. Lighting
is a key, a fill and a rim light on a neutral background; Workbench uses studio light.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from .body import body_mesh

ENGINES = {"workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE", "cycles": "CYCLES"}
FRAMED = ("head", "neck", "spine3", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
          "left_wrist", "right_wrist", "left_index3", "right_index3", "left_thumb3", "right_thumb3",
          "left_pinky3", "right_pinky3", "left_middle3", "right_middle3")
SKIN = (0.80, 0.62, 0.52, 1.0)
BACKGROUND = (0.16, 0.17, 0.19)


@dataclass(frozen=True)
class RenderSettings:
    engine: str = "workbench"
    width: int = 640
    height: int = 480
    format: str = "mp4"     # mp4 or png
    samples: int = 16       # Cycles and EEVEE

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose {', '.join(ENGINES)}")
        if self.format not in ("mp4", "png"):
            raise ValueError(f"unknown format {self.format!r}; choose mp4 or png")
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise ValueError(f"resolution {self.width}x{self.height} is out of range (16 to 8192 pixels)")


def framed_points(scene, armature, samples: int = 12) -> np.ndarray:
    """World positions of the upper body and hands over the action's frames."""
    names = [n for n in FRAMED if n in armature.pose.bones]
    frames = np.unique(np.linspace(scene.frame_start, scene.frame_end, samples).round().astype(int))
    current = scene.frame_current
    points = []
    for f in frames:
        scene.frame_set(int(f))
        mw = armature.matrix_world
        points += [tuple(mw @ armature.pose.bones[n].head) for n in names]
    scene.frame_set(current)
    return np.array(points)


def frame_camera(scene, armature, margin: float = 1.18):
    """A front camera fitted around the upper body and hands; returns the camera object."""
    pts = framed_points(scene, armature)
    lo, hi = pts.min(0), pts.max(0)
    pelvis = armature.matrix_world @ armature.pose.bones["pelvis"].head if "pelvis" in armature.pose.bones \
        else Vector(lo)
    # signing space, as sign videos frame it: head to hips; hands hanging at rest may leave it
    lo[2] = max(lo[2] - 0.08, pelvis.z - 0.12)
    hi[2] += 0.14   # above the head joint, for the skull
    center = (lo + hi) / 2
    cam_data = bpy.data.cameras.new("SignForge camera")
    cam_data.lens, cam_data.sensor_width, cam_data.sensor_fit = 50.0, 36.0, "HORIZONTAL"
    aspect = scene.render.resolution_x / scene.render.resolution_y
    half_w = math.atan(18.0 / cam_data.lens)
    half_h = math.atan(math.tan(half_w) / aspect)
    width, height = (hi[0] - lo[0]) * margin, (hi[2] - lo[2]) * margin
    dist = max(width / 2 / math.tan(half_w), height / 2 / math.tan(half_h)) + (hi[1] - lo[1]) / 2
    cam = bpy.data.objects.new("SignForge camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = Vector((center[0], lo[1] - max(dist, 0.5), center[2]))
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)   # look along +Y, at the body's front
    scene.camera = cam
    return cam


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


def setup(scene, armature, settings: RenderSettings) -> None:
    """Engine, resolution, camera, lights and materials for ``armature``'s current action."""
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
        scene.cycles.use_denoising = False
    else:
        scene.eevee.taa_render_samples = settings.samples
    mesh = body_mesh(armature)
    if mesh is not None:
        skin_material(mesh)
    cam = frame_camera(scene, armature)
    target = cam.location.copy()
    target.y = armature.matrix_world.translation.y
    add_lights(scene, target)


def output(scene, path: Path, fmt: str) -> Path:
    """Point the render output at ``path`` (an .mp4 file, or a folder of PNG frames)."""
    im = scene.render.image_settings
    if fmt == "mp4":
        im.media_type = "VIDEO"
        im.file_format = "FFMPEG"
        ff = scene.render.ffmpeg
        ff.format, ff.codec = "MPEG4", "H264"
        ff.constant_rate_factor = "MEDIUM"
        scene.render.filepath = str(path.with_suffix(".mp4"))
        return path.with_suffix(".mp4")
    im.media_type = "IMAGE"
    im.file_format = "PNG"
    path.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(path / "frame_####")
    return path


def render(scene, path: Path, fmt: str) -> Path:
    target = output(scene, path, fmt)
    bpy.ops.render.render(animation=True, scene=scene.name)
    return target


def render_still(scene, path: Path, frame: int | None = None) -> Path:
    """One PNG frame (tests and thumbnails)."""
    im = scene.render.image_settings
    im.media_type = "IMAGE"
    im.file_format = "PNG"
    if frame is not None:
        scene.frame_set(frame)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    return path
