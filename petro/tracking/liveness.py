"""Which process a run belongs to, and the RUNNING runs whose process is gone.

A run killed outright (SIGKILL, SIGTERM, a machine that lost power) cannot end itself: MLflow
keeps it RUNNING for ever. petro tags every run it starts with the process that runs it
(``petro.host``, ``petro.boot_id``, ``petro.pid``, ``petro.pid_start``), and before logging
marks KILLED this machine's RUNNING petro runs whose process is gone.

How a process is known to be gone: same host name and same boot (Linux
``/proc/sys/kernel/random/boot_id``), and no process with that pid started at that time
(``/proc/<pid>/stat`` field 22, the start time in clock ticks since boot), so a pid the system
gave again to another process does not keep a dead run alive. Elsewhere than Linux: no process
with that pid (a reused pid keeps the run RUNNING: the safe side). Runs of another machine, or of
this one before a reboot (the host name alone cannot tell it from another machine of the same
name), are left alone.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

HOST, BOOT_ID, PID, PID_START = "petro.host", "petro.boot_id", "petro.pid", "petro.pid_start"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` ('' where the system does not say), None if there is
    no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]      # fields 3.. after the command name
    except (OSError, IndexError):
        pass
    if Path("/proc/self/stat").exists():                 # Linux: no /proc/<pid>, no process
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:                              # another user's process
        pass
    return ""


def process_tags() -> dict[str, str]:
    """Tags naming this process, for every run petro starts."""
    return {HOST: socket.gethostname(), BOOT_ID: _boot_id(), PID: str(os.getpid()),
            PID_START: _started(os.getpid()) or ""}


def process_gone(tags: dict[str, str]) -> bool:
    """True when the run's tags name a process of this machine and boot that no longer runs."""
    if tags.get(HOST) != socket.gethostname() or tags.get(BOOT_ID) != _boot_id() \
            or not str(tags.get(PID, "")).isdigit():
        return False
    return _started(int(tags[PID])) != tags.get(PID_START, "")


def mark_stale_runs(client) -> list[str]:
    """End as KILLED every RUNNING run of this machine whose petro process is gone (in every
    active experiment of the store); returns their ids."""
    from mlflow.entities import ViewType

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    killed, token = [], None
    while experiments:
        page = client.search_runs(experiments, f"attributes.status = 'RUNNING' and "
                                  f"tags.`{HOST}` = '{socket.gethostname()}'",
                                  max_results=1000, page_token=token)
        for run in page:
            if process_gone(run.data.tags):
                client.set_tag(run.info.run_id, "petro.end",
                               f"process {run.data.tags[PID]} on {run.data.tags[HOST]} was gone "
                               f"when process {os.getpid()} checked at "
                               f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
                client.set_terminated(run.info.run_id, "KILLED")
                killed.append(run.info.run_id)
        token = page.token
        if not token:
            break
    return killed
