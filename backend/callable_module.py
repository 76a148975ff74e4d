"""Modules that can be called: ``backend.generate(...)`` and ``backend.reconstruct(...)``.

A module and its main function share a name, so the public API is one name either way:
``backend.generate("prompt")`` and ``from backend.generate import generate`` both work.

Why a module, not a function in ``backend/__init__.py``: importing ``backend.generate`` (as
``from backend.generate import GenerateError`` does) makes Python set the package's attribute
``generate`` to the module, replacing any function of that name, so ``backend.generate(...)``
would work only until the first such import. The public calls (README, tests) keep this one
mechanism, applied by name at each module's end; nothing else in SignForge changes a class.
"""
from __future__ import annotations

import sys
import types


def make_callable(module_name: str, function_name: str | None = None) -> None:
    """Calling the module ``module_name`` calls its function ``function_name`` (default: the
    module's own last name)."""
    module = sys.modules[module_name]
    name = function_name or module_name.rsplit(".", 1)[-1]

    class CallableModule(types.ModuleType):
        __doc__ = module.__doc__

        def __call__(self, *args, **kwargs):
            return getattr(self, name)(*args, **kwargs)

    module.__class__ = CallableModule
