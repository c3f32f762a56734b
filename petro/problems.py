"""Problems found on the way from files to reports, as records rather than strings.

A :class:`Problem` has a severity (as in dlisio's error handler: info, warning, error), a
message in a petrophysicist's words, and where it happened (file, line, curve, well). Readers
append problems; the application layer gathers them per well; the command line renders them.
Nobody parses a message to find out what happened: ``code`` says it (``"file_failed"``,
``"t2_unusable"``, ...).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace


class Severity(enum.IntEnum):
    INFO = 10       # what was decided (a unit converted, rows sorted)
    WARNING = 20    # data left out or doubtful (a curve dropped, a T2 distribution not usable)
    ERROR = 30      # a file or a well could not be used


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    path: str = ""
    line: int | None = None
    curve: str = ""
    well: str = ""
    code: str = ""

    def where(self) -> str:
        parts = [p for p in (self.path, f"line {self.line}" if self.line else "",
                             f"curve {self.curve}" if self.curve else "") if p]
        return ", ".join(parts)

    def __str__(self) -> str:
        w = self.where()
        return f"{w}: {self.message}" if w else self.message

    @property
    def is_error(self) -> bool:
        return self.severity >= Severity.ERROR

    def at(self, **where) -> "Problem":
        """The same problem with more of its location filled in (only empty fields are set)."""
        return replace(self, **{k: v for k, v in where.items() if v and not getattr(self, k)})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.name.lower()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Problem":
        return cls(**{**d, "severity": Severity[str(d["severity"]).upper()]})


def info(message: str, **where) -> Problem:
    return Problem(Severity.INFO, message, **where)


def warning(message: str, **where) -> Problem:
    return Problem(Severity.WARNING, message, **where)


def error(message: str, **where) -> Problem:
    return Problem(Severity.ERROR, message, **where)


def errors(problems) -> list[Problem]:
    return [p for p in problems if p.is_error]
