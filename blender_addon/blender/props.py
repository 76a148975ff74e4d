"""Scene settings behind the SignForge sidebar. Imports bpy."""
from __future__ import annotations

import bpy

from ..core.sentence import KINDS
from ..core.takes import INSERT_MODES
from .retarget import map_items, target_poll


def _take_picked(settings, context) -> None:
    """Picking a take in the list shows it (selects its strip)."""
    from .takelist import show_take

    actions = bpy.data.actions
    if 0 <= settings.take_index < len(actions):
        show_take(context, actions[settings.take_index])


class SignForgeSentenceItem(bpy.types.PropertyGroup):
    """One sign of the panel's sentence (``core.sentence.PanelItem`` is its plain twin)."""
    kind: bpy.props.EnumProperty(name="Kind", default="TEXT", items=list(KINDS),
                                 description="What the sign comes from")
    text: bpy.props.StringProperty(name="Sign", default="",
                                   description="The description (Text) or the dictionary entry id (Entry)")
    path: bpy.props.StringProperty(name="File", subtype="FILE_PATH", default="",
                                   description="The motion file (Motion): .npz, .npy or .bvh")
    seconds: bpy.props.FloatProperty(name="Seconds", default=0.0, min=0.0, max=10.0, unit="TIME_ABSOLUTE",
                                     subtype="TIME_ABSOLUTE",
                                     description="A text sign's length (0: the plan's)")
    transition: bpy.props.FloatProperty(name="Transition", default=0.0, min=0.0, max=4.8, unit="TIME_ABSOLUTE",
                                        subtype="TIME_ABSOLUTE",
                                        description="Seconds of the move into this sign (0: from the distance)")


class SignForgeSettings(bpy.types.PropertyGroup):
    sentence_items: bpy.props.CollectionProperty(type=SignForgeSentenceItem, name="Sentence")
    sentence_index: bpy.props.IntProperty(name="Sign", default=0, min=0)
    sentence_seed: bpy.props.IntProperty(name="Seed", default=0, min=0,
                                         description="Sign k of the sentence is made with seed + k")
    sentence_steps: bpy.props.IntProperty(name="Steps", default=50, min=1, max=100,
                                          description="Sampling steps per transition")
    sentence_markers: bpy.props.BoolProperty(name="Markers", default=True,
                                             description="Build puts a timeline marker at each sign's first frame")
    edit_text: bpy.props.StringProperty(
        name="Redo as", default="",
        description="What the selected bones sign over the preview range (Regenerate Selection)")
    edit_seed: bpy.props.IntProperty(name="Seed", default=0, min=0, description="Seed of Regenerate Selection")
    prompt: bpy.props.StringProperty(
        name="Prompt", default="the right hand, shaped as a fist with the thumb up, taps the chin twice",
        description="What the hands do, in plain English")
    model: bpy.props.EnumProperty(
        name="Model", default="handmdm",
        items=[("handmdm", "HandMDM", "Text-to-motion diffusion"),
               ("signavatar", "SignAvatar", "Conditional VAE over words")])
    auto_length: bpy.props.BoolProperty(name="Auto", default=True,
                                        description="Let the model pick the take's length from the prompt")
    seconds: bpy.props.FloatProperty(name="Duration", default=2.4, min=0.2, max=600.0, soft_max=20.0,
                                     unit="TIME_ABSOLUTE", subtype="TIME_ABSOLUTE",
                                     description="Length of the take; the panel shows the model's longest, "
                                                 "and Generate refuses a longer one before sending it")
    guidance: bpy.props.FloatProperty(name="Guidance", default=2.5, min=0.0, max=20.0,
                                      description="Classifier-free guidance scale")
    refine: bpy.props.FloatProperty(name="Refine", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
                                    description="HandMDM: how far the model redraws the take planned from the "
                                                "prompt. 0 keeps the plan's hand, shape, place, movement and "
                                                "count exactly; 1 samples without a plan")
    steps: bpy.props.IntProperty(name="Steps", default=50, min=1, max=100,
                                 description="Sampling steps (100 = the full schedule)")
    sampler: bpy.props.EnumProperty(
        name="Sampler", default="ddim", description="HandMDM's sampler (the protocol's generate 'sampler')",
        items=[("ddim", "DDIM", "Deterministic: the same seed gives the same take, in Steps steps"),
               ("ddpm", "DDPM", "Stochastic, over all 100 steps of the schedule (Steps is not used)")])
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    hand: bpy.props.EnumProperty(
        name="Hand", default="right",
        description="Dominant hand when the prompt names none; a prompt that names a hand is obeyed, "
                    "and a take led by the other hand is mirrored",
        items=[("right", "Right", "Right-handed signing"), ("left", "Left", "Left-handed signing")])
    variants: bpy.props.IntProperty(name="Variants", default=1, min=1, max=16,
                                    description="Motions to generate; each becomes its own action")
    image_path: bpy.props.StringProperty(
        name="Image", subtype="FILE_PATH",
        description="Condition on this image instead of the prompt (shown for a SignAvatar run trained on "
                    "CLIP embeddings, set in the preferences' Checkpoints; needs CLIP weights)")
    video_path: bpy.props.StringProperty(name="Video", subtype="FILE_PATH",
                                         description="A sign video or a .pose landmark file")
    trim_start: bpy.props.FloatProperty(name="Start", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                                        subtype="TIME_ABSOLUTE")
    trim_end: bpy.props.FloatProperty(name="End", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                                      subtype="TIME_ABSOLUTE", description="0 = to the end")
    denoise: bpy.props.BoolProperty(name="Denoise", default=False,   # as in the CLI: it lifted a resting arm
                                    description="Clean the reconstruction with SignAvatar's reconstruct mode "
                                                "(off until it helps on real clips)")
    show_clip: bpy.props.BoolProperty(
        name="Show Clip", default=False,
        description="Reconstruct also shows the video on a plane beside the armature, in sync with the take "
                    "(one clip at a time; the scene's frame rate, range and playhead stay as they are)")
    mirror_hand: bpy.props.EnumProperty(
        name="Hand", default="KEEP",
        description="The signing hand of an imported or reconstructed motion",
        items=[("KEEP", "Keep as Is", "Key the motion as the file or video has it"),
               ("MIRROR", "Mirror to Other Hand", "Swap left and right before keying (the backend's Motion.mirror): "
                                                  "a left-handed signer from a right-handed one")])
    take_index: bpy.props.IntProperty(name="Take", default=-1, update=_take_picked,
                                      description="The take chosen in the take list (an index into the file's actions)")
    regenerate_random: bpy.props.BoolProperty(
        name="Random Seed", default=False,
        description="Regenerate and Variants draw random seeds (off: the take's seed + 1, + 2...)")
    variant_count: bpy.props.IntProperty(name="Variants", default=2, min=1, max=16,
                                         description="New takes Variants of This Take makes, stacked at its frame")

    insert_mode: bpy.props.EnumProperty(
        name="Insert", default=INSERT_MODES[0][0], items=list(INSERT_MODES),
        description="Where each new take goes; its keys start at the playhead, at the scene's frame rate")
    fit_scene: bpy.props.BoolProperty(
        name="Fit Scene Range", default=False,
        description="Set the scene's frame range to each new take (off: the scene's timing is left alone)")
    reduce_keys: bpy.props.BoolProperty(
        name="Reduce Keys", default=False,
        description="Thin each new take's keys (first and last kept) while every bone stays within the "
                    "tolerance of the motion at every frame (off: a key per frame on each channel that moves)")
    key_tolerance: bpy.props.FloatProperty(
        name="Tolerance (°)", default=0.5, min=0.01, max=10.0, precision=2,
        description="Largest rotation, in degrees, a bone may stray from the motion between reduced keys "
                    "(the root's location 1 mm, expressions 0.005)")
    retarget_target: bpy.props.PointerProperty(
        name="Target", type=bpy.types.Object, poll=target_poll,
        description="Your armature (Rigify, Mixamo, a metarig, the SMPL-X add-on's...) that Retarget keys")
    retarget_map: bpy.props.EnumProperty(
        name="Map", items=map_items,
        description="Which SMPL-X joint drives which bone: a preset, one of your maps (JSON files in the "
                    "add-on's bone_maps folder) or a map file")
    retarget_map_path: bpy.props.StringProperty(
        name="Map file", subtype="FILE_PATH",
        description="A bone map JSON: {\"bones\": {\"right_wrist\": \"hand.R\", ...}} (SMPL-X joint -> bone)")


class SignForgeStatus(bpy.types.PropertyGroup):
    """The running job's state; on the window manager, so a job never edits the scene's data."""
    running: bpy.props.BoolProperty(name="Running", default=False)
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: bpy.props.StringProperty(name="Status", default="")
    warning: bpy.props.StringProperty(name="Warning", default="",
                                      description="The backend's notes on the last result (a truncated prompt...)")
    quality: bpy.props.StringProperty(name="Quality", default="",
                                      description="The last reconstruction's quality figures, a line each")
    stage: bpy.props.StringProperty(name="Stage", default="",
                                    description="The running request's phase (loading: a model loads)")
