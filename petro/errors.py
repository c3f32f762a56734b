"""petro's error hierarchy.

Every error petro raises for bad input is a :class:`PetroError`; its message names the file, the
line or curve, and what to do. Third-party errors are wrapped with ``raise ... from err``.
An error that does not stop a batch becomes a :class:`petro.problems.Problem` record
(:meth:`PetroError.problem`).
"""

from __future__ import annotations

from petro.problems import Problem, Severity


class PetroError(Exception):
    """Base class of every error petro raises on purpose."""

    code = "error"
    exit_code = 2        # the command line's exit code: bad usage, configuration or model

    def problem(self, code: str | None = None, **where) -> Problem:
        """This error as a problem record (severity error), for a batch that goes on."""
        return Problem(Severity.ERROR, str(self), code=code or self.code).at(**where)


class InputError(PetroError):
    """A data file cannot be read or makes no sense (names the file, line or curve)."""

    code = "input"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 curve: str | None = None, code: str | None = None):
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if curve is not None:
            where.append(f"curve {curve}")
        self.path, self.line, self.curve = path, line, curve
        self.reason = message
        if code:
            self.code = code
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def problem(self, code: str | None = None, **where) -> Problem:
        return Problem(Severity.ERROR, self.reason, path=str(self.path or ""), line=self.line,
                       curve=self.curve or "", code=code or self.code).at(**where)


class DataError(PetroError):
    """The data given could not be used at all (every well failed, no well with NMR targets):
    the command ran and found the data wanting, so its exit code is 1, not 2 (bad usage)."""

    code = "data"
    exit_code = 1


class UnitError(PetroError):
    """A unit is unknown or ambiguous for the quantity it belongs to."""

    code = "unit"


class ConfigError(PetroError):
    """A pipeline or model spec is invalid."""

    code = "config"


class ModelError(PetroError):
    """A model cannot be trained, loaded or applied."""

    code = "model"
