"""Canonical mnemonics: vendor curve names -> one name per measurement.

The packaged table is ``petro/data/aliases.yaml``; a pipeline's ``aliases:`` section extends or
replaces entries. Lookup is case-insensitive; when a file holds several aliases of one canonical
curve, the one listed first wins and the others stay available under their original names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from petro.errors import ConfigError


INPUT_KINDS = ("value", "log10")


@dataclass(frozen=True)
class CurveSpec:
    name: str
    quantity: str
    aliases: tuple[str, ...]
    description: str = ""
    input: str | None = None          # 'value' / 'log10': a model input; None: not an input


@lru_cache(maxsize=1)
def _packaged() -> dict[str, CurveSpec]:
    text = resources.files("petro").joinpath("data/aliases.yaml").read_text()
    return _parse(yaml.safe_load(text), "petro/data/aliases.yaml")


def _parse(raw: dict, source: str) -> dict[str, CurveSpec]:
    out = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the alias table must be a mapping of canonical names")
    for name, entry in raw.items():
        if not isinstance(entry, dict) or "aliases" not in entry:
            raise ConfigError(f"{source}: entry {name!r} needs 'aliases' (a list of mnemonics)")
        aliases = tuple(str(a).upper() for a in entry["aliases"])
        if name.upper() not in aliases:
            aliases = (name.upper(),) + aliases
        inp = entry.get("input")
        if inp is True:
            inp = "value"
        if inp not in (None, False) and inp not in INPUT_KINDS:
            raise ConfigError(f"{source}: entry {name!r}: input must be one of {INPUT_KINDS}")
        out[name.upper()] = CurveSpec(name.upper(), str(entry.get("quantity", "none")), aliases,
                                      str(entry.get("description", "")), inp or None)
    return out


class AliasTable:
    """Alias lookup: ``table.canonical('RHOZ') == 'RHOB'``."""

    def __init__(self, overrides: dict | None = None):
        specs = dict(_packaged())
        if overrides:
            specs.update(_parse(overrides, "pipeline 'aliases' section"))
        self.specs = specs
        self._lookup: dict[str, tuple[str, int]] = {}
        for spec in specs.values():
            for rank, alias in enumerate(spec.aliases):
                prev = self._lookup.get(alias)
                if prev is not None and prev[0] != spec.name:
                    raise ConfigError(f"alias {alias!r} is listed for both {prev[0]} and "
                                      f"{spec.name}; keep it under one canonical name")
                self._lookup[alias] = (spec.name, rank)

    def canonical(self, mnemonic: str) -> tuple[str, int] | None:
        """``(canonical name, rank)`` for a file mnemonic, or None when not in the table."""
        m = mnemonic.strip().upper()
        hit = self._lookup.get(m)
        if hit is None and ":" in m:  # lasio's duplicate suffix GR:1, GR:2
            hit = self._lookup.get(m.split(":")[0])
        return hit

    def quantity(self, name: str) -> str:
        spec = self.specs.get(name)
        return spec.quantity if spec else "none"

    def inputs(self) -> dict[str, str]:
        """Model input curves in table order: canonical name -> 'value' or 'log10'."""
        return {s.name: s.input for s in self.specs.values() if s.input}
