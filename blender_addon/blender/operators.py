"""Operators: add a body, generate, reconstruct, import, export, cancel. Imports bpy.

Operators gather properties into plain request parameters, run a ``core.jobs.Job`` on the
backend and apply the result. From the UI (``invoke``) a job runs modally on a timer, so
Blender never freezes, and Esc or the Cancel button stops it; from scripts (``execute``) it
runs to the end. The scene changes only after every result has arrived, in one step that
undo reverts; a cancelled or failed job changes nothing. A take's name, properties and
placement are fixed when the operator runs (``take``), so editing the panel while a job
runs changes nothing about it.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..core.bodyfile import BodyFileError, read_body
from ..core.client import BackendError
from ..core.jobs import Job, check_generate
from ..core.requests import offers_sampler
from ..core.motion import MotionFileError, Reduction, read_motion, write_motion
from ..core.takes import Take, generate_take, quality_lines, quality_record, quality_summary, take_name, video_take
from . import prefs as P
from . import session
from .animate import apply_motion, key_counts, motion_from_action, name_limit
from .body import BODY_TAG, build_body, find_body

_ACTIVE: dict = {"job": None}   # the job the Cancel button stops


def status(context):
    return context.window_manager.signforge_status


def settings(context):
    return context.scene.signforge


def body_request(context, folder: Path) -> tuple[str, dict]:
    pref = P.get(context)
    smplx = bpy.path.abspath(pref.smplx_path) if pref is not None and pref.smplx_path else None
    out = folder / "body.npz"
    return "body", {"smplx": smplx, "out": str(out)}


def generate_request(context, folder: Path, info: dict | None = None) -> tuple[str, dict]:
    """The ``generate`` request for the panel, its motions written in ``folder``; the image goes
    only to a model whose ``info`` says it takes images (the field is hidden for the others)."""
    s = settings(context)
    pref = P.get(context)
    params = {"prompt": s.prompt, "model": s.model, "guidance": float(s.guidance),
              "steps": int(s.steps), "seed": int(s.seed), "num": int(s.variants), "hand": s.hand,
              "out_dir": str(folder / "motions")}
    if s.model == "handmdm":
        params["refine"] = float(s.refine)
        if s.sampler != "ddim" and offers_sampler(info):   # the default is left out: any backend takes it
            params["sampler"] = s.sampler
    if not s.auto_length:   # else the model picks the length from the prompt
        params["seconds"] = float(s.seconds)
    run = session.run_folder(context, s.model)
    if run is not None:
        params["run"] = run
    if pref is not None and pref.device != "cpu":
        params["device"] = pref.device
    if s.image_path and info and info.get("images"):
        params["image"] = bpy.path.abspath(s.image_path)
    return "generate", params


class _JobOperator:
    """A backend job behind an operator: ``requests`` says what to ask, ``apply`` uses the answer.

    Its files go in ``self._folder`` (a job folder of the session's), removed when it ends,
    whether it succeeded, failed or was cancelled."""
    bl_options = {"REGISTER", "UNDO"}
    label = "SignForge"

    def requests(self, context) -> list[tuple[str, dict]]:
        """The requests, their files written in ``self._folder``."""
        raise NotImplementedError

    def apply(self, context, job: Job) -> str:
        raise NotImplementedError

    def take(self, context, requests: list[tuple[str, dict]]) -> Take | None:
        """The take this request makes, described now (None: the operator makes none)."""
        return None

    def _start(self, context) -> Job | None:
        if status(context).running:
            self.report({"ERROR"}, "SignForge is already running a job; wait for it or cancel it")
            return None
        try:
            self._folder = session.job_folder()
            requests = self.requests(context)
            self._take = self.take(context, requests)
            job = Job(session.backend(context), requests, label=self.label).start()
        except (BackendError, ValueError, OSError) as exc:
            session.end_job()
            self.report({"ERROR"}, str(exc))
            status(context).status = str(exc)
            return None
        st = status(context)
        st.running, st.progress, st.status, st.stage, st.warning = True, 0.0, f"{self.label}…", "", ""
        _ACTIVE["job"] = job
        return job

    def _end(self, context, job: Job) -> set[str]:
        try:
            return self._finish(context, job)
        finally:
            session.end_job()

    def _finish(self, context, job: Job) -> set[str]:
        st = status(context)
        st.running, st.stage = False, ""
        _ACTIVE["job"] = None
        for notice in job.notices:
            self.report({"WARNING"}, notice)
        for warning in job.warnings:   # the backend's notes: it generated, but not quite as asked
            self.report({"WARNING"}, f"{self.label}: {warning}")
        if job.cancelled:
            st.status = f"{self.label}: cancelled"
            self.report({"INFO"}, st.status)
            return {"CANCELLED"}
        if not job.ok:
            st.status = f"{self.label} failed: {job.error}"
            self.report({"ERROR"}, st.status)
            return {"CANCELLED"}
        try:
            message = self.apply(context, job)
        except (ValueError, OSError, MotionFileError, BodyFileError) as exc:
            st.status = f"{self.label} failed: {exc}"
            self.report({"ERROR"}, st.status)
            return {"CANCELLED"}
        if job.warnings:
            message += f" (warning: {'; '.join(job.warnings)})"
        st.progress, st.status, st.warning = 1.0, message, "; ".join(job.warnings)
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def execute(self, context):
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        job.wait()
        return self._end(context, job)

    def invoke(self, context, event):
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        self._job = job
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC":
            job.cancel()
        if event.type in {"TIMER", "ESC"} or job.finished:
            done = job.poll()
            st = status(context)
            st.progress, st.status, st.stage = job.fraction, job.message, job.stage
            for area in context.screen.areas if context.screen else ():
                if area.type == "VIEW_3D":
                    area.tag_redraw()
            if done:
                context.window_manager.event_timer_remove(self._timer)
                return self._end(context, job)
        return {"PASS_THROUGH"}


def _placement(context, variants: int = 1) -> dict:
    """Where a take goes, from the panel and the playhead as they are now."""
    s = settings(context)
    if s.insert_mode == "REPLACE":
        arm = find_body(context)
        if arm is None or arm.animation_data is None or arm.animation_data.action is None:
            raise ValueError("Replace Active Action: the SMPL-X armature has no active action; "
                             "choose NLA Strip or New Action")
        if variants > 1:
            raise ValueError("Replace Active Action takes one variant; set Variants to 1")
    return {"mode": s.insert_mode, "frame": int(context.scene.frame_current), "fit_scene": bool(s.fit_scene),
            "key_tolerance": float(s.key_tolerance) if s.reduce_keys else 0.0}


def _apply_take(context, arm, motion, take: Take, name: str, figures: dict | None = None):
    """Key ``motion`` as ``take``, recording its provenance and the backend's quality ``figures``."""
    reduction = Reduction.degrees(take.key_tolerance) if take.key_tolerance > 0 else None
    return apply_motion(context, arm, motion, name, take.mode, take.frame,
                        take.record({**motion.provenance, **(figures or {})}), take.fit_scene, reduction)


def _keys(actions, take: Take) -> str:
    """How many keys the takes hold, against a key per frame per channel."""
    full, kept = (sum(n) for n in zip(*(key_counts(a) for a in actions)))
    how = f", reduced to {take.key_tolerance:g}°" if take.key_tolerance > 0 else ""
    return f"; {kept:,} keys (a key per frame: {full:,}{how})"


def _where(arm, take: Take) -> str:
    """Where the take went, and what hides it: an active action plays over every NLA strip."""
    if take.mode != "NLA":
        return f" at frame {take.frame}" if take.mode == "ACTION" else ""
    active = arm.animation_data.action
    hidden = f" (the active action {active.name!r} plays over it: push it down or unlink it)" if active else ""
    return f" as NLA strips at frame {take.frame}{hidden}"


def _with_body(context, folder: Path, request: tuple[str, dict]) -> list[tuple[str, dict]]:
    """``request``, preceded by a ``body`` request when the scene has no SMPL-X armature yet."""
    return ([] if find_body(context) is not None else [body_request(context, folder)]) + [request]


def _target(context, job: Job):
    """The armature a job's motion goes on: a new one from its ``body`` result, else the scene's."""
    if job.requests[0][0] == "body":
        return build_body(context, read_body(job.result(0)["path"]))
    arm = find_body(context)
    if arm is None:
        raise ValueError("the SMPL-X armature was removed while the job ran")
    return arm


class SIGNFORGE_OT_add_body(_JobOperator, bpy.types.Operator):
    """Add an SMPL-X body: your model from the preferences, or SignForge's mannequin"""
    bl_idname = "signforge.add_body"
    bl_label = "Add SMPL-X Body"
    label = "Body"

    def requests(self, context):
        return [body_request(context, self._folder)]

    def apply(self, context, job):
        arm = build_body(context, read_body(job.result(0)["path"]))
        for ob in context.selected_objects:
            ob.select_set(False)
        arm.select_set(True)
        context.view_layer.objects.active = arm
        return f"Added {arm.name} ({arm[BODY_TAG]})"


class SIGNFORGE_OT_generate(_JobOperator, bpy.types.Operator):
    """Generate signing from the prompt onto the SMPL-X armature (a new action per variant)"""
    bl_idname = "signforge.generate"
    bl_label = "Generate"
    label = "Generate"

    def requests(self, context):
        if not settings(context).prompt.strip():
            raise ValueError("Type a prompt first: the prompt is empty")
        info = session.limits(context, fetch=True)   # the model's limits, checked before anything is sent
        request = generate_request(context, self._folder, info)
        check_generate(request[1], info)
        return _with_body(context, self._folder, request)

    def take(self, context, requests):
        params = requests[-1][1]
        return generate_take(params, limit=name_limit(), **_placement(context, int(params["num"])))

    def apply(self, context, job):
        arm = _target(context, job)
        paths = job.result(-1)["motions"]
        motions = [read_motion(p) for p in paths]
        take, n = self._take, len(motions)
        actions = [None] * n
        for i in reversed(range(n)):   # the last one applied is on top (or active): variant #1
            actions[i] = _apply_take(context, arm, motions[i], take, take.variant(i, n, name_limit()))
        return (f"Generated {n} motion(s), {motions[0].frames} frames: {actions[0].name}{_where(arm, take)}"
                f"{_keys(actions, take)}")


class SIGNFORGE_OT_reconstruct(_JobOperator, bpy.types.Operator):
    """Reconstruct the signer's motion from a video or .pose file onto the SMPL-X armature"""
    bl_idname = "signforge.reconstruct"
    bl_label = "Reconstruct"
    label = "Reconstruct"

    def requests(self, context):
        s = settings(context)
        path = bpy.path.abspath(s.video_path)
        if not s.video_path or not os.path.isfile(path):
            raise ValueError(f"Choose a video or .pose file first: {path or 'none chosen'} does not exist")
        if s.trim_end and s.trim_end <= s.trim_start:
            raise ValueError(f"the trim end ({s.trim_end:.2f} s) must come after its start ({s.trim_start:.2f} s)")
        out = self._folder / "video.npz"
        pref = P.get(context)
        smplx = bpy.path.abspath(pref.smplx_path) if pref is not None and pref.smplx_path else None
        params = {"path": path, "start": float(s.trim_start), "end": float(s.trim_end) or None,
                  "denoise": bool(s.denoise), "smplx": smplx, "mirror": s.mirror_hand == "MIRROR", "out": str(out)}
        self._show_clip = bool(s.show_clip)   # fixed now, like the take
        status(context).quality = ""
        return _with_body(context, self._folder, ("reconstruct", params))

    def take(self, context, requests):
        params = requests[-1][1]
        return video_take(params, Path(params["path"]).stem, limit=name_limit(), **_placement(context))

    def apply(self, context, job):
        result = job.result(-1)
        motion = read_motion(result["path"])   # a bad file is refused before the scene changes
        arm = _target(context, job)
        quality = result.get("quality") or {}
        action = _apply_take(context, arm, motion, self._take, self._take.name, quality_record(quality))
        status(context).quality = "\n".join(quality_lines(quality))
        if quality:
            self.report({"INFO"}, f"{self.label} quality: {quality_summary(quality)}")
        if getattr(self, "_show_clip", False):
            self._clip(context, arm, result.get("clip"), action)
        return (f"Reconstructed {motion.frames} frames into {action.name}{_where(arm, self._take)}"
                f"{_keys([action], self._take)}")

    def _clip(self, context, arm, clip: dict | None, action) -> None:
        """Show Clip: the video on a plane beside the take, in sync; a clip that cannot be shown
        is a warning (the take stands)."""
        from .animate import take_frames
        from .clip import show_clip

        if not clip:
            self.report({"WARNING"}, "Show Clip: a .pose file holds landmarks, not pictures; there is no clip to show")
            return
        first, last = take_frames(action)
        try:
            show_clip(context, arm, clip, first, last - first + 1, action.name)
        except ValueError as exc:
            self.report({"WARNING"}, f"Show Clip: {exc}")


class SIGNFORGE_OT_import_motion(_JobOperator, bpy.types.Operator, ImportHelper):
    """Import a motion file (.npz, HandMDM .npy, .bvh) as a new action on the SMPL-X armature"""
    bl_idname = "signforge.import_motion"
    bl_label = "Import Motion"
    label = "Import"
    filter_glob: bpy.props.StringProperty(default="*.npz;*.npy;*.bvh", options={"HIDDEN"})

    def requests(self, context):
        if not os.path.isfile(self.filepath):
            raise ValueError(f"{self.filepath}: no such file")
        out = self._folder / "import.npz"
        params = {"path": self.filepath, "mirror": settings(context).mirror_hand == "MIRROR", "out": str(out)}
        return _with_body(context, self._folder, ("load_motion", params))

    def invoke(self, context, event):
        return ImportHelper.invoke(self, context, event)

    def take(self, context, requests):
        return Take("", {"source_file": self.filepath}, **_placement(context))

    def apply(self, context, job):
        arm = _target(context, job)
        path = job.result(-1)["path"]
        motion = read_motion(path)
        name = take_name(motion.text, Path(self.filepath).stem, limit=name_limit())
        action = _apply_take(context, arm, motion, self._take, name)
        return (f"Imported {motion.frames} frames into {action.name}{_where(arm, self._take)}"
                f"{_keys([action], self._take)}")


class SIGNFORGE_OT_export_motion(_JobOperator, bpy.types.Operator, ExportHelper):
    """Export the SMPL-X armature's action as .npz, HandMDM .npy or .bvh"""
    bl_idname = "signforge.export_motion"
    bl_label = "Export Motion"
    label = "Export"
    filename_ext = ".npz"
    filter_glob: bpy.props.StringProperty(default="*.npz;*.npy;*.bvh", options={"HIDDEN"})

    def requests(self, context):
        arm = find_body(context)
        if arm is None:
            raise ValueError("there is no SignForge armature to export")
        if Path(self.filepath).suffix.lower() not in (".npz", ".npy", ".bvh"):
            raise ValueError(f"{self.filepath}: export as .npz, .npy (HandMDM) or .bvh")
        src = self._folder / "export.npz"
        motion = motion_from_action(context, arm)
        baked = arm.animation_data is None or arm.animation_data.action is None
        self._what = f" ({motion.frames} frames of the NLA as it plays)" if baked else ""
        write_motion(motion, src)
        return [("save_motion", {"src": str(src), "dst": self.filepath})]

    def check(self, context):
        return False   # keep the extension the user typed (.npy and .bvh are valid too)

    def invoke(self, context, event):
        return ExportHelper.invoke(self, context, event)

    def apply(self, context, job):
        return f"Exported {job.result(0)['path']}{getattr(self, '_what', '')}"


class SIGNFORGE_OT_cancel(bpy.types.Operator):
    """Stop the running SignForge job; the scene stays as it was"""
    bl_idname = "signforge.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return _ACTIVE["job"] is not None

    def execute(self, context):
        job = _ACTIVE["job"]
        if job is not None:
            job.cancel()
        return {"FINISHED"}


CLASSES = (SIGNFORGE_OT_add_body, SIGNFORGE_OT_generate, SIGNFORGE_OT_reconstruct,
           SIGNFORGE_OT_import_motion, SIGNFORGE_OT_export_motion, SIGNFORGE_OT_cancel)
