"""The Python frontend (porter.python.frontend), loaded on first use: a run whose results all come from the
cache, and every other command, never imports libcst's matchers and the rule visitors (a fifth of a second)."""

from __future__ import annotations

__all__ = ["ModuleContext", "VISITOR_FOR_KIND", "port_python", "port_with_libcst"]


def __getattr__(name: str):
    if name in __all__:
        from porter.python import frontend, visitors

        return getattr(visitors if name == "VISITOR_FOR_KIND" else frontend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
