"""Progress and problems as events, so the application layer never prints.

A caller passes ``on_event`` (any callable taking an :class:`Event`); the command line turns
events into rich progress bars and coloured lines, a notebook may ignore them or log them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from petro.problems import Problem


@dataclass(frozen=True)
class Event:
    kind: str                    # 'start' | 'advance' | 'end' | 'problem' | 'note'
    stage: str = ""              # 'wells', 'tuning', 'blind-well folds', 'MLflow', ...
    item: str = ""               # the well, fold or model just done
    total: int | None = None     # for 'start': how many items the stage has
    problem: Problem | None = None
    message: str = ""


EventHandler = Callable[[Event], None]


class Reporter:
    """Small helper that turns calls into events for an optional handler."""

    def __init__(self, on_event: EventHandler | None = None):
        self.on_event = on_event

    def emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def start(self, stage: str, total: int | None = None) -> None:
        self.emit(Event("start", stage, total=total))

    def advance(self, stage: str, item: str = "") -> None:
        self.emit(Event("advance", stage, item=str(item)))

    def end(self, stage: str) -> None:
        self.emit(Event("end", stage))

    def problem(self, problem: Problem) -> None:
        self.emit(Event("problem", problem=problem))

    def note(self, message: str) -> None:
        self.emit(Event("note", message=message))

    def stepper(self, stage: str):
        """A ``progress(item)`` callable for lower layers that take one."""
        return lambda item="": self.advance(stage, item)


def reporter(on_event: EventHandler | Reporter | None) -> Reporter:
    return on_event if isinstance(on_event, Reporter) else Reporter(on_event)
