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
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.KIND} config {name!r}; choose {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

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
