"""Fault injection for tests: a per-well task wrapped so that its worker dies or runs out of
memory. Production tasks carry no test code; a test passes the wrapped task explicitly
(``process_wells(..., task=Faulty(stored_well, folder))``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Faulty:
    """``fn`` (called with the well name first), after looking in ``folder`` for
    ``kill-once-<well>`` (the process running that task exits, once: only one process wins the
    unlink), ``oom-<well>`` (the task allocates memory until its worker is killed) or
    ``kill-pid-<well>`` (the task kills the process whose pid the file holds, e.g. the Dask
    scheduler, then waits a minute)."""

    fn: Callable
    folder: str

    def __call__(self, name: str, *args):
        try:
            (Path(self.folder) / f"kill-once-{name}").unlink()
        except FileNotFoundError:
            pass
        else:
            os._exit(17)
        pid_file = Path(self.folder) / f"kill-pid-{name}"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 9)
            time.sleep(60)
        if (Path(self.folder) / f"oom-{name}").exists():
            blocks = []
            for _ in range(80):            # bounded: 4 GB at most, then a MemoryError
                blocks.append(bytearray(50 * 2 ** 20))
                for i in range(0, len(blocks[-1]), 4096):
                    blocks[-1][i] = 1      # touch the pages so they count as resident
                time.sleep(0.05)
            raise MemoryError(f"{name}: test allocation was not stopped by a memory limit")
        return self.fn(name, *args)
