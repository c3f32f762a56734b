"""petro's error hierarchy.

Every error petro raises for bad input is a :class:`PetroError`; its message names the file, the
line or curve, and what to do. Third-party errors are wrapped with ``raise ... from err``.
"""

from __future__ import annotations


class PetroError(Exception):
    """Base class of every error petro raises on purpose."""


class InputError(PetroError):
    """A data file cannot be read or makes no sense (names the file, line or curve)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 curve: str | None = None):
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if curve is not None:
            where.append(f"curve {curve}")
        self.path, self.line, self.curve = path, line, curve
        self.reason = message
        super().__init__(f"{': '.join([', '.join(where)] if where else [])}{': ' if where else ''}{message}")


class UnitError(PetroError):
    """A unit is unknown or ambiguous for the quantity it belongs to."""


class ConfigError(PetroError):
    """A pipeline or model spec is invalid."""


class ModelError(PetroError):
    """A model cannot be trained, loaded or applied."""
