"""Options of the ingest step: the ``ingest:`` section of a pipeline (and the model's recipe)."""

from __future__ import annotations

from dataclasses import dataclass, field

from petro.errors import ConfigError
from petro.mnemonics import AliasTable
from petro.units import POLICIES, check_extra_units
from petro.vocab import IMAGE_KINDS

OVERLAP_RULES = ("splice", "first", "longest")


@dataclass
class IngestOptions:
    """Options of the ingest step.

    Attributes
    ----------
    aliases : extra or replacing entries of the alias table (the pipeline's ``aliases:``)
    units : extra unit spellings per quantity, ``{quantity: {spelling: scale | [scale, offset]}}``
        (value in the canonical unit = value * scale + offset), e.g. ``{density: {kg/l: 1.0}}``
    unit_policy : 'strict' (a file with an unknown unit fails), 'drop' (the curve is left out and
        reported) or 'keep' (kept unconverted, reported)
    image_kinds : image kind per curve stem or file stem, overriding the recognition
    min_image_bins : smallest curve family that counts as an image
    t2_edges_ms : T2 bin boundaries (ms) for distributions whose file does not give them
    grid : 'nmr' (the NMR run's depths), 'first' or a regular step in m
    overlap : how a curve present in several runs is combined ('splice', 'first', 'longest')
    depth_shift_m : bulk depth shift (m) per image kind (``acoustic_amplitude``, ``resistive``,
        ...), added to the depths of every image of that kind, LAS sector curves and DLIS array
        channels alike (each shift is reported); curves are not shifted
    fast : parse the log data from the bytes at their offset (Arrow) where the file allows it
    csv_depth_unit : depth unit of CSV files whose depth header does not say
    dlis_null : value taken as missing in DLIS files without a NULL parameter (None: none)
    quality : quality control of the input curves and images (petro/quality.py): a dead, flat,
        stuck, noisy or mostly spiky input curve is left out of the well, dead image buttons are
        masked; every curve gets a verdict (``Well.verdicts``)
    read_threads : threads that parse one large LAS file (None: the reader's choice,
        :func:`petro.io.las.default_threads`); the application sets 1 in the tasks of its local
        process pool. Like ``fast``, it changes how files are read, never what is read: it is
        neither in a model's recipe nor in the parsed-file cache's key
    """

    aliases: dict | None = None
    units: dict = field(default_factory=dict)
    unit_policy: str = "drop"
    image_kinds: dict[str, str] = field(default_factory=dict)
    min_image_bins: int = 8
    t2_edges_ms: list[float] | None = None
    grid: str | float = "nmr"
    overlap: str = "splice"
    depth_shift_m: dict[str, float] = field(default_factory=dict)
    fast: bool = True
    csv_depth_unit: str = "m"
    dlis_null: float | None = -999.25
    quality: bool = True
    read_threads: int | None = None

    def __post_init__(self):
        if self.unit_policy not in POLICIES:
            raise ConfigError(f"ingest.unit_policy {self.unit_policy!r}: choose one of "
                              f"{list(POLICIES)}")
        if self.overlap not in OVERLAP_RULES:
            raise ConfigError(f"ingest.overlap {self.overlap!r}: choose one of "
                              f"{list(OVERLAP_RULES)}")
        if not (self.grid in ("nmr", "first") or (isinstance(self.grid, (int, float))
                                                   and not isinstance(self.grid, bool)
                                                   and self.grid > 0)):
            raise ConfigError(f"ingest.grid {self.grid!r}: 'nmr', 'first' or a step in m (> 0)")
        unknown = sorted(set(self.depth_shift_m) - set(IMAGE_KINDS))
        if unknown:
            raise ConfigError(f"ingest.depth_shift_m {unknown}: a shift is given per image kind, "
                              f"one of {list(IMAGE_KINDS)}")
        if self.read_threads is not None and (isinstance(self.read_threads, bool)
                                              or not isinstance(self.read_threads, int)
                                              or self.read_threads < 1):
            raise ConfigError(f"ingest.read_threads {self.read_threads!r}: a number of threads "
                              f"(1 or more), or leave it out")
        check_extra_units(self.units, "ingest.units")
        self.table()   # an alias listed for two canonical curves fails here, not per file

    def table(self) -> AliasTable:
        return AliasTable(self.aliases)

    def recipe(self) -> dict:
        """The options that change what a model sees (not how files are read)."""
        from dataclasses import asdict

        d = asdict(self)
        d.pop("fast")
        d.pop("read_threads")
        return d
