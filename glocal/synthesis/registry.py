"""The synthesis engines by name: run function, options class, version and default options.

Each engine is registered with

* ``run``: its function (``glocal.synthesis.contract``: ``run(atmosphere, abundances, line_list,
  wave_range, vturb, options, *, wave=None) -> EngineResult``);
* ``options``: its frozen :class:`~glocal.synthesis.contract.EngineOptions` dataclass, whose
  defaults are the engine's default options;
* ``version``: a function returning a one-line version string (recorded in grid provenance).

Each of the three may be given as a ``"module:attribute"`` string, imported at first use, so that
listing the engines imports none of them (pysme, for instance, is only needed to run SME).
The default engine everywhere (``synthesize``, ``synthesize_variants``, ``build_grid``, the CLI) is
:data:`DEFAULT_ENGINE`.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .contract import EngineOptions

__all__ = ["DEFAULT_ENGINE", "EngineSpec", "NoOptions", "register_engine", "get_engine", "available_engines",
           "engine_options", "describe_engines", "builtin_version"]

#: The engine used wherever none is named: the built-in LTE engine (glocal.synthesis.builtin).
DEFAULT_ENGINE = "builtin"


@dataclass(frozen=True)
class NoOptions(EngineOptions):
    """Options of an engine that takes none (e.g. a function registered by ``glocal.build``)."""


def _resolve(target):
    """``target`` itself, or the attribute that a ``"module:attribute"`` string names."""
    if not isinstance(target, str):
        return target
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class EngineSpec:
    """One registered engine (see the module docstring); the loaders import lazily."""
    name: str
    run_target: Callable | str
    options_target: type | str
    version_target: Callable | str
    description: str = ""

    @property
    def run(self) -> Callable:
        """The engine's ``run`` function."""
        return _resolve(self.run_target)

    @property
    def options_class(self) -> type:
        """The engine's options dataclass (a subclass of ``EngineOptions``)."""
        cls = _resolve(self.options_target)
        if not (isinstance(cls, type) and issubclass(cls, EngineOptions) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"engine {self.name!r}: options class {cls!r} is not an EngineOptions dataclass")
        return cls

    def version(self) -> str:
        """The engine's version string (may import the engine's dependencies)."""
        return str(_resolve(self.version_target)())

    def default_options(self) -> EngineOptions:
        """The options the engine runs with when none are given."""
        return self.options_class()

    def options(self, options: EngineOptions | Mapping[str, Any] | None = None, **more) -> EngineOptions:
        """Validated options: ``options`` (an instance of this engine's class, a mapping or None)
        updated with ``more``.  TypeError naming the valid options for an unknown name or an instance
        of another engine's options class; the class itself raises ValueError for bad values."""
        cls = self.options_class
        if isinstance(options, EngineOptions) and not isinstance(options, cls):
            raise TypeError(f"engine {self.name!r} takes {cls.__name__}, got {type(options).__name__}")
        if options is not None and not isinstance(options, (EngineOptions, Mapping)):
            raise TypeError(f"options must be a {cls.__name__} or a mapping, got {type(options).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        given = set(more) | (set(options) if isinstance(options, Mapping) else set())
        unknown = sorted(given - set(names))
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(map(repr, unknown))} for engine {self.name!r}; "
                            f"valid: {', '.join(names) if names else '(none)'}")
        return cls.from_mapping(options, **more)

    def describe(self) -> dict:
        """Name, description, version (or why it is unavailable) and default options."""
        try:
            version = self.version()
        except Exception as exc:  # an engine whose dependency is missing is still listed
            version = f"unavailable ({type(exc).__name__}: {exc})"
        return {"name": self.name, "description": self.description, "version": version,
                "default_options": self.default_options().as_dict()}


def builtin_version() -> str:
    """Version string of the built-in engine: that of the glocal package."""
    import importlib.metadata as md
    try:
        v = md.version("glocal")
    except md.PackageNotFoundError:
        v = "unknown"
    return f"glocal built-in LTE engine (glocal {v})"


_ENGINES: dict[str, EngineSpec] = {}


def register_engine(name: str, run: Callable | str, options: type | str = NoOptions,
                    version: Callable | str = "glocal.synthesis.registry:builtin_version", *,
                    description: str = "", overwrite: bool = False) -> EngineSpec:
    """Register an engine under ``name`` (see the module docstring); returns its :class:`EngineSpec`.

    ValueError if ``name`` is taken (unless ``overwrite``), TypeError for a malformed argument.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("engine name must be a non-empty string")
    for what, target in (("run", run), ("options", options), ("version", version)):
        if not (callable(target) or (isinstance(target, str) and target.count(":") == 1)):
            raise TypeError(f"{what} must be a callable/class or a 'module:attribute' string, got {target!r}")
    if not isinstance(options, str) and not (isinstance(options, type) and issubclass(options, EngineOptions)):
        raise TypeError(f"options must be an EngineOptions dataclass, got {options!r}")
    if name in _ENGINES and not overwrite:
        raise ValueError(f"engine {name!r} already registered (pass overwrite=True)")
    spec = EngineSpec(name, run, options, version, description)
    _ENGINES[name] = spec
    return spec


def available_engines() -> tuple[str, ...]:
    """Names of the registered engines, the default first."""
    return tuple(sorted(_ENGINES, key=lambda n: (n != DEFAULT_ENGINE, n)))


def get_engine(name: str) -> EngineSpec:
    """The :class:`EngineSpec` registered as ``name``; ValueError listing the names otherwise."""
    if not isinstance(name, str) or name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(available_engines())}")
    return _ENGINES[name]


def engine_options(name: str, options: EngineOptions | Mapping[str, Any] | None = None, /,
                   **more) -> EngineOptions:
    """Validated options dataclass of engine ``name`` (see :meth:`EngineSpec.options`)."""
    return get_engine(name).options(options, **more)


def describe_engines() -> list[dict]:
    """One dict per registered engine: name, description, version, default options."""
    return [get_engine(n).describe() for n in available_engines()]


register_engine("builtin", "glocal.synthesis.builtin:run", "glocal.synthesis.builtin:BuiltinOptions",
                "glocal.synthesis.registry:builtin_version",
                description="vectorised LTE engine of glocal.synthesis.builtin")
register_engine("sme", "glocal.synthesis.sme:run", "glocal.synthesis.sme:SMEOptions",
                "glocal.synthesis.sme:engine_version",
                description="SMElib (pysme-astro) driven through its C interface, glocal.synthesis.sme")
register_engine("spectrum", "glocal.synthesis.spectrum:run", "glocal.synthesis.spectrum:SpectrumOptions",
                "glocal.synthesis.spectrum:engine_version",
                description="R. O. Gray's SPECTRUM v2.77 (the paper's code), glocal.synthesis.spectrum; F/F_c only")
