"""Rendering for the command line (rich): progress bars and problems from application events,
tables of results. Only the command line uses this module."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from petro.problems import Severity
from petro.vocab import BASELINE_LABELS, COVERAGE, IN_DOMAIN, TARGETS

console = Console(stderr=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


class Events:
    """Renders application events: one progress bar per stage, errors and warnings on stderr.
    ``status`` becomes 1 when an error was reported (some well or file failed)."""

    def __init__(self):
        self.status = 0
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TextColumn("{task.fields[item]}"), TimeElapsedColumn(),
                                 console=err_console, disable=not err_console.is_terminal
                                 and os.environ.get("PETRO_PROGRESS") != "1")
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def __call__(self, ev) -> None:
        if ev.kind == "start":
            self.tasks[ev.stage] = self.progress.add_task(ev.stage, total=ev.total, item="")
        elif ev.kind == "advance" and ev.stage in self.tasks:
            self.progress.update(self.tasks[ev.stage], advance=1, item=ev.item)
        elif ev.kind == "problem":
            p = ev.problem
            if p.severity >= Severity.ERROR:
                self.status = 1
            if p.severity >= Severity.WARNING:
                tag = "[red]error[/red]" if p.is_error else "[yellow]warning[/yellow]"
                who = f" well {p.well}" if p.well else ""   # a model's or a run's problem: no well
                self.progress.console.print(f"{tag}{who}: {p}")
        elif ev.kind == "note":
            self.progress.console.print(ev.message)


def table(title: str, columns, rows) -> None:
    t = Table(title=title, show_lines=True)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    console.print(t)


def print_metrics(run) -> None:
    """Pooled blind-well metric of each model beside its ablation and baselines ('-' where a
    baseline cannot be computed, e.g. no density log for density porosity)."""
    order = ["model", "logs_only"]
    for e in run.models:
        order += [k for k in e.metrics if k not in order and k not in ("petrophysical", "train_mean")]
    order += ["petrophysical", "train_mean"]
    rows = []
    for e in run.models:
        t = TARGETS[e.target]
        rows.append((e.model, f"RMSE ({t.report_unit})",
                     *[f"{e.metrics[k][t.metric]:.3f}" if t.metric in e.metrics.get(k, {}) else "-"
                       for k in order],
                     f"{e.metrics['model'].get(COVERAGE, float('nan')):.3f}",
                     f"{e.metrics['model'].get(IN_DOMAIN, float('nan')):.3f}",
                     e.version or "-", e.alias or "-"))
    table("blind-well validation (pooled over left-out wells)",
          ["model", "metric"] + [BASELINE_LABELS.get(k, k) for k in order]
          + ["P10-P90 cover", "in domain", "version", "alias"], rows)
    for e in run.models:
        key, m = TARGETS[e.target].metric, e.metrics
        mine = m["model"].get(key)
        others = {k: v[key] for k, v in m.items() if k not in ("model", "logs_only") and key in v}
        line = f"  {e.model}: blind RMSE {mine:.3f}"
        if others:
            best = min(others, key=others.get)
            d = others[best] - mine
            line += (f" vs best baseline {BASELINE_LABELS.get(best, best)} {others[best]:.3f} "
                     f"({d:+.3f}, {100 * d / others[best]:+.0f} %)")
        if key in m.get("logs_only", {}):
            line += f"; images vs logs only: {m['logs_only'][key] - mine:+.3f}"
        console.print(line)
        if e.reason:
            console.print(f"  {e.registered} v{e.version}: {e.alias} ({e.reason})")


def print_verdicts(wells) -> None:
    """The curves and images quality control left out or masked, per well (nothing when every
    input was used)."""
    from petro.io.verdicts import verdict_rows

    rows = [(w.name, "\n".join(verdict_rows(w.summary.get("verdicts", []))))
            for w in wells if not w.error]
    rows = [r for r in rows if r[1]]
    if rows:
        table("curve verdicts (inputs left out or masked; `petro ingest --long` lists all)",
              ("well", "verdicts"), rows)


def _rounds_rows(model: str, final: dict, folds: dict, unit: str) -> list[tuple]:
    """Rows of the input-group table for the P50's boosting rounds (model and logs-only
    sibling): the rounds kept of the decision's, the inner gain of the cut, the blind folds
    that cut."""
    rows = []
    for who, r in (final.get("rounds") or {}).items():
        fold_rounds = [((d or {}).get("rounds") or {}).get(who) for d in folds.values()]
        cut = sum(f is not None and f["rounds"] < f["of"] for f in fold_rounds)
        rows.append((model, f"P50 boosting rounds ({who.replace('_', '-')})",
                     f"{r['rounds']} of {r['of']}", f"{r['rmse_all'] - r['rmse']:+.3f} {unit}",
                     "-", "-", f"{cut}/{len(folds)} cut" if folds else "-"))
    return rows


def print_input_groups(run) -> None:
    """Which input groups each model kept (the final decision on every training well), the gain
    that decided it (inner grouped CV) and how many blind-well folds kept each group."""
    rows = []
    for e in run.models:
        if not e.groups or not (e.groups["final"].get("groups") or
                                e.groups["final"].get("rounds")):
            continue
        unit = TARGETS[e.target].report_unit
        final, folds = e.groups["final"], e.groups.get("folds") or {}
        for g, v in final["groups"].items():
            kept = sum(g in (d or {}).get("kept", []) for d in folds.values()) \
                if g != "images" else "-"
            rows.append((e.model, g, "yes" if g in final["kept"] or
                         (g == "images" and v["keep"]) else "no",
                         f"{v['gain']:+.3f} {unit}", f"{v['floor']:.3f}",
                         f"{v['positive_folds']}/{len(v['fold_gains'])}",
                         f"{kept}/{len(folds)}" if folds else "-"))
        rows += _rounds_rows(e.model, final, folds, unit)
    if rows:
        table("input groups (kept where they help, decided on training wells only)",
              ["model", "group", "kept", "gain (inner CV)", "needed", "inner folds +",
               "blind folds keeping it"], rows)
