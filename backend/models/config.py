"""What every model config shares: named presets (``paper``, ``small``) and a plain dict."""
from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar


class PresetConfig:
    """Mixin for frozen config dataclasses; subclasses list their presets in ``PRESETS``."""
    PRESETS: ClassVar[dict[str, dict]] = {}
    KIND: ClassVar[str] = "model"

    @classmethod
    def named(cls, name: str, **overrides):
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.KIND} config {name!r}; choose {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    def as_dict(self) -> dict:
        return asdict(self)
