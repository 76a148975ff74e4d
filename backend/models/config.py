"""What every model config shares: named presets (``paper``, ``small``) and a plain dict."""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import ClassVar

from blender_addon.core.limits import MAX_MODEL_FRAMES, MAX_MODEL_LAYERS, MAX_MODEL_WIDTH

MAX_MODEL_SIZE = 4 * MAX_MODEL_WIDTH    # any other size field (feed-forward width, classes, dims)
SIZE_LIMITS = {"width": MAX_MODEL_WIDTH, "layers": MAX_MODEL_LAYERS, "heads": MAX_MODEL_LAYERS,
               "max_frames": MAX_MODEL_FRAMES}


class PresetConfig:
    """Mixin for frozen config dataclasses; subclasses list their presets in ``PRESETS``."""
    PRESETS: ClassVar[dict[str, dict]] = {}
    KIND: ClassVar[str] = "model"

    @classmethod
    def named(cls, name: str, **overrides):
        """Preset ``name`` with ``overrides`` (``--override KEY=VALUE``): a key may be a field's
        name or a prefix that names one field alone (``kl`` for ``kl_weight``); a value must
        have the field's type (an int serves a float field)."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.KIND} config {name!r}; choose {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **cls._resolve(overrides)})

    @classmethod
    def _resolve(cls, overrides: dict) -> dict:
        known = {f.name: f for f in fields(cls)}
        resolved = {}
        for key, value in overrides.items():
            names = [key] if key in known else [n for n in known if n.startswith(key)]
            if len(names) != 1:
                why = f"it could be {', '.join(names)}" if names else f"its settings are {', '.join(known)}"
                raise ValueError(f"{cls.KIND} has no setting {key!r}; {why}")
            default = known[names[0]].default
            kind = type(default)
            ok = (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool)) or \
                (kind is int and isinstance(value, int) and not isinstance(value, bool)) or \
                (kind not in (int, float) and (default is None or isinstance(value, kind)))
            if not ok:
                raise ValueError(f"{cls.KIND} setting {names[0]} must be {kind.__name__}; got {value!r}")
            resolved[names[0]] = float(value) if kind is float else value
        return resolved

    def __post_init__(self) -> None:
        """Sizes from a config.json are checked before any tensor is made: a typo such as
        width 65536 would otherwise ask for tens of gigabytes."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            limit = SIZE_LIMITS.get(f.name, MAX_MODEL_SIZE)
            if not 0 <= value <= limit:
                raise ValueError(f"{self.KIND} {f.name}={value} is outside 0..{limit}")

    def as_dict(self) -> dict:
        return asdict(self)
