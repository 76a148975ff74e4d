"""The reconstructed video beside its take, in sync (the Video section's Show Clip). Imports bpy.

One plane, "SignForge Clip", stands to the right of the SignForge armature as the front view
sees it (parented to it), facing that view, and shows the video through a movie image
texture (an emission shader, so it reads the same in every engine; the Solid view shows it
with Viewport Shading ▸ Color ▸ Texture). Its image user's ``frame_offset`` is driven by a
simple expression (``core.takes.ClipTiming``; no Python, so it runs with auto-run scripts off)
that shows, at each scene frame, the video's frame at the same moment of the take: the take's
first frame shows the second it begins in the file, and the clip keeps its own speed at any
scene rate. The scene's rate, range and playhead are never touched; a later Show Clip replaces
the plane (one clip at a time), and undo removes it with the take.
"""
from __future__ import annotations

import os

import bpy
from mathutils import Vector

from ..core.takes import ClipTiming, clip_timing

CLIP_OBJECT = "SignForge Clip"
CLIP_TAG = "signforge_clip_take"   # on the plane: the take it plays with


def find_clip(scene):
    return next((ob for ob in scene.objects if CLIP_TAG in ob), None)


def remove_clip(scene) -> None:
    """The clip plane, its mesh and material, and its image when nothing else shows it."""
    ob = find_clip(scene)
    if ob is None:
        return
    mesh = ob.data
    mats = [m for m in mesh.materials if m is not None]
    images = [n.image for m in mats for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]
    bpy.data.objects.remove(ob)
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    for m in mats:
        if m.users == 0:
            bpy.data.materials.remove(m)
    for img in images:
        if img.users == 0:
            bpy.data.images.remove(img)


def load_movie(path: str):
    """The video as a movie image (an existing one reused); ValueError when Blender cannot play it."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: the video is not there any more (or the backend's machine sees another disk)")
    try:
        img = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: Blender cannot open it ({str(exc).strip()})") from None
    if img.source != "MOVIE" or img.frame_duration < 1 or not img.size[0]:
        if img.users == 0:
            bpy.data.images.remove(img)
        raise ValueError(f"{path}: Blender cannot play it as a movie")
    return img


def _placement(armature, aspect: float) -> tuple[Vector, float, float]:
    """Centre, width and height of a plane beside the armature's bones (world space)."""
    pts = [armature.matrix_world @ p for b in armature.data.bones for p in (b.head_local, b.tail_local)]
    lo = Vector(tuple(min(p[k] for p in pts) for k in range(3)))
    hi = Vector(tuple(max(p[k] for p in pts) for k in range(3)))
    tall = max(hi.z - lo.z, 0.5)
    height = 0.6 * tall
    width = height * aspect
    centre = Vector((hi.x + 0.1 * tall + width / 2, (lo.y + hi.y) / 2, lo.z + 0.62 * tall))
    return centre, width, height


def _material(name: str, img, timing: ClipTiming):
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:   # 5.0 gives every new material nodes; 4.x none until use_nodes
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = img
    tex.location = (-400, 0)
    emit = nodes.new("ShaderNodeEmission")
    out = nodes.new("ShaderNodeOutputMaterial")
    out.location = (250, 0)
    links.new(tex.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    nodes.active = tex   # what the Solid view and Workbench show in Texture colour
    user = tex.image_user
    user.frame_start, user.frame_duration, user.use_cyclic, user.use_auto_refresh = timing.frame, 1, False, True
    driver = user.driver_add("frame_offset").driver
    driver.type = "SCRIPTED"
    driver.expression = timing.offset_expression()
    mat.diffuse_color = (1.0, 1.0, 1.0, 1.0)
    return mat


def show_clip(context, armature, clip: dict, frame: int, frames: int, take: str):
    """A plane beside ``armature`` playing ``clip`` (the ``reconstruct`` result's ``clip``) in sync
    with a take of ``frames`` frames keyed from ``frame`` at the scene's rate. Returns the plane;
    ValueError (one line) when the video cannot be shown, the scene untouched then."""
    from .animate import scene_fps

    scene = context.scene
    img = load_movie(str(clip["path"]))
    try:
        timing = clip_timing(float(clip["start_s"]), float(clip["fps"]), scene_fps(scene), frame, frames,
                             int(img.frame_duration))
    except (KeyError, TypeError, ValueError) as exc:
        if img.users == 0:
            bpy.data.images.remove(img)
        raise ValueError(f"{clip.get('path')}: {exc}") from None
    remove_clip(scene)
    w, h = float(clip.get("width") or img.size[0]), float(clip.get("height") or img.size[1])
    centre, width, height = _placement(armature, w / max(h, 1.0))
    mesh = bpy.data.meshes.new(CLIP_OBJECT)
    x, z = width / 2, height / 2
    # in the XZ plane, its normal -Y: facing the front view, as the body does
    mesh.from_pydata([(-x, 0, -z), (x, 0, -z), (x, 0, z), (-x, 0, z)], [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for k, co in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
        uv.data[k].uv = co
    mesh.materials.append(_material(CLIP_OBJECT, img, timing))
    ob = bpy.data.objects.new(CLIP_OBJECT, mesh)
    ob.location = centre
    ob[CLIP_TAG] = take
    (armature.users_collection[0] if armature.users_collection else scene.collection).objects.link(ob)
    ob.parent = armature
    ob.matrix_parent_inverse = armature.matrix_world.inverted()
    return ob
