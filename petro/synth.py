"""A synthetic carbonate field written as real well files.

Every well sees one layered stratigraphy (mudstone / packstone / grainstone / vuggy beds, with
lateral thickness and facies changes). Rock properties live on a fine truth grid (2.5 mm):
matrix porosity, shale volume, a latent grain size that sets the pore size (NMR T2 of the matrix
pores) and the image texture, and discrete vugs drawn as objects on the borehole wall, so that
vug porosity is what the images show. Logs are measured from that rock by tool models: NMR T2
distributions (clay-bound, capillary-bound and free-fluid parts, echo noise) and their summary
curves; GR, density, neutron, sonic (which sees matrix porosity, not vugs), Archie deep
resistivity and caliper with tool smoothing and noise; an acoustic image (amplitude, transit
time; 180 bins) and a resistive pad image with NaN gaps between pads. Dipping bed boundaries
are sinusoids on the images.

The pipeline only ever gets the files; permeability depends on pore size, which conventional
logs cannot see but the image texture can.

A well is made in named steps, each drawing from the well's own random stream in a fixed order
(so a field depends only on its seed): :func:`_lateral_beds` (the field's column, thinned,
thickened and partly substituted in this well), :func:`_rock` (properties on the truth grid),
:func:`_wall` (the imaged borehole wall), :func:`_vug_objects`, the three images
(:func:`_amplitude_image`, :func:`_transit_time_image`, :func:`_resistive_image`), the
conventional logs (:func:`_conventional_logs`) and the NMR run (:func:`_t2_distribution`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from petro.errors import ConfigError
from petro.io.las_writer import write_las
from petro.targets.nmr import t2_partition, timur_coates
from petro.vocab import CLAY_CUTOFF_MS, LITHOLOGY_CUTOFF_MS, MATRIX

# Facies properties by lithology, one row per facies: matrix porosity mean / sd (v/v), shale
# volume mean / sd (v/v), log10 T2 of the matrix pores (ms), vug intensity (vugs per m2 of wall),
# image texture strength (amplitude units) and the microporous share of the matrix porosity.
# "clastic" is a sandstone / shale sequence, for testing a carbonate model on rock it never saw.
_FACIES_COLUMNS = ("phi", "phi_sd", "vsh", "vsh_sd", "lt2", "vug", "tex", "micro")
_FACIES_TABLES = {
    "carbonate": {     # phi  phi_sd  vsh   vsh_sd  lt2   vug    tex  micro
        "mudstone":   (0.05, 0.02,  0.28, 0.07,  1.25, 0.0,   2.5, 0.75),
        "packstone":  (0.12, 0.03,  0.09, 0.03,  1.75, 30.0,  4.0, 0.4),
        "grainstone": (0.18, 0.035, 0.03, 0.015, 2.2,  40.0,  5.5, 0.2),
        "vuggy":      (0.10, 0.03,  0.04, 0.02,  1.9,  300.0, 6.0, 0.3),
    },
    "clastic": {
        "shale":         (0.06, 0.02, 0.65, 0.1,  0.9, 0.0, 1.5, 0.9),
        "shaly_sand":    (0.15, 0.03, 0.3,  0.06, 1.5, 0.0, 2.5, 0.5),
        "sand":          (0.26, 0.03, 0.06, 0.03, 2.3, 0.0, 2.0, 0.1),
        "cemented_sand": (0.08, 0.02, 0.05, 0.02, 1.6, 0.0, 3.0, 0.4),
    },
}
FACIES = tuple(_FACIES_TABLES["carbonate"])
CLASTIC_FACIES = tuple(_FACIES_TABLES["clastic"])
# matrix constants by lithology (density g/cm3, slowness us/ft, PEF b/e): the vocabulary's minerals
_MATRIX = {"carbonate": MATRIX["calcite"], "clastic": MATRIX["quartz"]}
_TRANSITION = np.array([  # facies Markov chain (rows: from, cols: to) of the stratigraphic column
    [0.25, 0.45, 0.20, 0.10],
    [0.30, 0.15, 0.40, 0.15],
    [0.20, 0.30, 0.20, 0.30],
    [0.30, 0.25, 0.35, 0.10],
])
T2_EDGES_MS = np.logspace(np.log10(0.3), np.log10(3000.0), 31)  # 30 log-spaced bins
_LOG_T2_CENTRES = np.log10(np.sqrt(T2_EDGES_MS[:-1] * T2_EDGES_MS[1:]))
NMR_STEP = 0.1524
BIT_RADIUS = 0.108  # m (8.5 in hole)
TRUTH_STEP = 0.0025  # m, the truth grid
VUG_RADIUS = (0.009, 0.45)   # m, median and log sd of the vugs' lognormal radius
# m2, mean area of a vug's section (second moment of the lognormal radius, the clip ignored)
_MEAN_VUG_AREA = np.pi * VUG_RADIUS[0] ** 2 * np.exp(2 * VUG_RADIUS[1] ** 2)


def facies_properties(lithology: str) -> dict[str, np.ndarray]:
    """The facies table of ``lithology`` as one array per property (rows in facies order)."""
    rows = _FACIES_TABLES[lithology].values()
    return {k: np.array(col) for k, col in zip(_FACIES_COLUMNS, zip(*rows))}


IMAGE_SOURCES = ("rock", "logs")


@dataclass
class SynthConfig:
    """Settings of a synthetic field (the ``synthetic:`` section of a pipeline, and the flags of
    ``petro synth``).

    Attributes
    ----------
    wells, seed : number of wells; the seed (a field depends only on it and the settings)
    thickness : m of logged interval per well
    nmr_fraction : share of the wells with an NMR run (the first ones)
    amp_bins, amp_step : acoustic image bins and row step (m)
    res_bins, res_step, res_pads, res_pad_cover : resistive image buttons, row step (m), pads and
        the share of the circumference under the pads
    lithology : "carbonate", or "clastic" (a sandstone / shale sequence)
    image_source : what the images are rendered from.
        ``"rock"`` (default): the rock on the truth grid; the images see what the conventional
        logs cannot (the grain size behind pore size and permeability, the vugs one by one,
        porosity at 5 mm with noise of their own).
        ``"logs"``: the recorded conventional logs (noise included), interpolated onto the truth
        grid, each image property from one log by a monotone function: amplitude and
        resistivity from the density (porosity) and the GR (shale), texture strength from the
        neutron, its coarseness from the deep resistivity, vug objects at a rate set by the
        neutron, the hole from the caliper; no bed boundaries. Everything else is drawn from
        random numbers independent of the rock. Every pixel is then a function of the recorded
        logs and of noise, so the targets (porosity and permeability, and anything else of the
        rock) are independent of the images given the logs: the images carry nothing beyond
        them, and, one log per property, nothing a model could not work out from the logs
        (they may still summarise the logs' neighbouring samples, as windowed log statistics
        do). Not "the truth quantities the logs respond to": an image rendered from the true
        porosity would measure it again with its own noise, and averaging two noisy
        measurements is information beyond the logs. Not petrophysical combinations of logs
        either (an Archie saturation, a density-sonic secondary porosity): those carry no more
        information, but a booster with few wells learns from them what it would not find in
        the logs alone (measured in ``benchmarks/research``).
    log_noise : multiplier (> 0) of the conventional logs' random noise. 1 (default): density
        +/-0.012 g/cc, neutron +/-0.008 v/v, GR +/-3 API, sonic +/-1 us/ft, log10 resistivity
        +/-0.02, caliper +/-0.03 in, PEF +/-0.08 (one standard deviation per sample). 1.7: a
        noisier tool string (density +/-0.02 g/cc, about +/-1.2 p.u. of porosity per sample),
        where single samples are noisy and only averages over a bed tell the porosity.
    log_vug_visibility : share (0-1) of the vug porosity that density, neutron, sonic and deep
        resistivity read. 1 (default): the density and neutron read all of it, the sonic a
        fifth (first arrivals travel through the matrix), the resistivity all of it. 0: none;
        the vug porosity is then seen by the NMR (the targets) and the images only. Tool
        physics for 0: the vugs are separate (non-touching) vugs at the wall's scale; the deep
        resistivity does not see them (separate vugs do not conduct: Archie's m rises, Lucia
        1983), the sonic does not (Wyllie reads intergranular porosity), and the compensated
        density reads mud in a vug under its pad as standoff and removes it with the
        long-short spacing correction, as the neutron's standoff correction does; the NMR
        (a few cm of investigation) and the images of the whole wall see them. A limit case,
        for a field where only the images can tell vug porosity.
    """

    wells: int = 8
    seed: int = 7
    thickness: float = 40.0        # m of logged interval per well
    nmr_fraction: float = 0.75      # share of wells with an NMR run
    amp_bins: int = 180
    amp_step: float = 0.005         # m
    res_bins: int = 96
    res_step: float = 0.0025        # m
    res_pads: int = 4
    res_pad_cover: float = 0.7       # share of the circumference under pads
    lithology: str = "carbonate"     # or "clastic": a sandstone / shale sequence
    image_source: str = "rock"       # or "logs": images that carry nothing beyond the logs
    log_vug_visibility: float = 1.0  # 0: vug porosity visible only in the images (and NMR)
    log_noise: float = 1.0           # multiplier of the conventional logs' noise

    def __post_init__(self):
        ints = ("wells", "seed", "amp_bins", "res_bins", "res_pads")
        for name in ints + ("thickness", "nmr_fraction", "amp_step", "res_step", "res_pad_cover",
                            "log_vug_visibility", "log_noise"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                    (name in ints and not float(v).is_integer()):
                raise ConfigError(f"synthetic.{name}: {v!r} is not a "
                                  f"{'whole ' if name in ints else ''}number")
        if self.wells < 1 or self.thickness <= 0 or self.amp_step <= 0 or self.res_step <= 0 \
                or self.log_noise <= 0:
            raise ConfigError("synthetic: wells, thickness, steps and log_noise must be positive")
        if not 0.0 <= self.nmr_fraction <= 1.0 or not 0.0 < self.res_pad_cover <= 1.0:
            raise ConfigError("synthetic: nmr_fraction and res_pad_cover are shares (0-1)")
        if not 0.0 <= self.log_vug_visibility <= 1.0:
            raise ConfigError(f"synthetic.log_vug_visibility {self.log_vug_visibility!r}: a share "
                              f"(0-1) of the vug porosity the conventional logs read")
        if self.lithology not in ("carbonate", "clastic"):
            raise ConfigError(f"synthetic.lithology {self.lithology!r}: carbonate or clastic")
        if self.image_source not in IMAGE_SOURCES:
            raise ConfigError(f"synthetic.image_source {self.image_source!r}: 'rock' (images of the "
                              f"rock) or 'logs' (images rendered from the recorded logs)")


def _column(rng: np.random.Generator, total: float) -> tuple[np.ndarray, np.ndarray]:
    """Stratigraphic column: bed facies and base-case thicknesses (m) summing past ``total``."""
    fac, thick = [], []
    f = rng.integers(0, 4)
    while sum(thick) < total:
        fac.append(f)
        thick.append(float(np.clip(rng.lognormal(np.log(1.3), 0.6), 0.25, 5.0)))
        f = rng.choice(4, p=_TRANSITION[f])
    return np.array(fac), np.array(thick)


def field_column(cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """The field's stratigraphic column (facies per bed, base-case thicknesses in m), common to
    every well (each well varies it: :func:`make_well`)."""
    return _column(np.random.default_rng([cfg.seed, 99991]), cfg.thickness + 10.0)


def _ar_field(rng, n: int, corr: int, sd: float = 1.0) -> np.ndarray:
    """Smooth standard-normal random field of ``n`` samples with correlation length ``corr``."""
    x = gaussian_filter1d(rng.standard_normal(n + 8 * corr), corr, mode="reflect")[4 * corr:-4 * corr]
    return sd * x / (x.std() + 1e-12)


def _bed_values(rng, bed_of: np.ndarray, n_beds: int, mean: np.ndarray, sd: np.ndarray,
                corr: int, within: float) -> np.ndarray:
    bed_level = mean + sd * rng.standard_normal(n_beds)
    return bed_level[bed_of] + within * sd[bed_of] * _ar_field(rng, bed_of.size, corr)


def _smooth(z: np.ndarray, x: np.ndarray, width_m: float) -> np.ndarray:
    dz = z[1] - z[0]
    return gaussian_filter1d(x, width_m / dz / 2.355, mode="nearest")


@dataclass
class _Logging:
    """Logging of the truth grid ``z`` (m) at the log depths ``zl`` (m)."""

    z: np.ndarray
    zl: np.ndarray

    def at(self, x: np.ndarray, width_m: float) -> np.ndarray:
        """``x`` (on the truth grid) seen by a tool of vertical resolution ``width_m`` (m,
        Gaussian full width at half maximum), at the log depths."""
        return np.interp(self.zl, self.z, _smooth(self.z, x, width_m))


@dataclass
class _Beds:
    """The well's beds on the truth grid: depths (m) from ``z0`` in steps of ``dz``."""

    top: float               # m, top of the logged interval
    z0: float                # m, first truth sample
    dz: float                # m, truth step
    z: np.ndarray            # m, truth grid
    bounds: np.ndarray       # m, bed boundaries (top of the first bed, then each bed's base)
    fac: np.ndarray          # facies index of each bed
    bed_of: np.ndarray       # bed index of each truth sample

    @property
    def f_of(self) -> np.ndarray:
        """Facies index of each truth sample."""
        return self.fac[self.bed_of]


@dataclass
class _Rock:
    """Rock properties on the truth grid."""

    phi_m: np.ndarray        # v/v, matrix (inter- and intraparticle) porosity
    vsh: np.ndarray          # v/v, shale volume
    grain: np.ndarray        # latent grain size, standard units
    lt2: np.ndarray          # log10 ms, T2 of the matrix pores

    @property
    def wash(self) -> np.ndarray:
        """m of radius enlargement: shale washes out."""
        return np.clip((self.vsh - 0.2) * 0.05, 0, 0.02)


@dataclass
class _Wall:
    """The imaged borehole wall: the acoustic image's rows and bins and, for each pixel, the
    truth-grid sample it shows (a dipping bed is a sinusoid)."""

    dip: float               # rad, relative dip of the beds
    azdip: float             # rad, azimuth of the dip
    az: np.ndarray           # rad, azimuth of each bin
    za: np.ndarray           # m, depth of each row
    idx: np.ndarray          # (rows, bins) truth-grid index of each pixel


@dataclass
class _ImageDrivers:
    """What the images are rendered from, on the truth grid (the vug mask on the acoustic
    image's grid): the rock itself, or the recorded logs (``SynthConfig.image_source``)."""

    phi: np.ndarray          # v/v, porosity between the vugs
    vsh: np.ndarray          # v/v, shale volume
    tex: np.ndarray          # texture strength, amplitude units
    tex_w: np.ndarray        # coarse share of the texture (0-1)
    boundary: np.ndarray     # bed-boundary bumps
    wash: np.ndarray         # m, radius enlargement
    vug_mask: np.ndarray     # (rows, bins) vugs on the wall


def _lateral_beds(cfg: SynthConfig, rng, index: int, column) -> _Beds:
    """The field's column in this well: each bed thinned or thickened, some substituted."""
    fac_col, thick_col = column
    thick = thick_col * np.clip(rng.normal(1.0, 0.2, thick_col.size), 0.5, 1.6)
    fac = fac_col.copy()
    swap = rng.random(fac.size) < 0.12
    fac[swap] = rng.integers(0, 4, swap.sum())
    top = 2000.0 + 25.0 * index + rng.normal(0, 5)
    z0, z1 = top - 3.0, top + cfg.thickness + 3.0
    z = np.arange(z0, z1, TRUTH_STEP)
    bounds = top - 3.0 + np.concatenate([[0.0], np.cumsum(thick)])
    bed_of = np.clip(np.searchsorted(bounds, z, side="right") - 1, 0, fac.size - 1)
    return _Beds(top, z0, TRUTH_STEP, z, bounds, fac, bed_of)


def _rock(rng, beds: _Beds, P: dict[str, np.ndarray]) -> _Rock:
    """Matrix porosity, shale volume and grain size (a level per bed plus a smooth variation
    within it) and the matrix pores' T2 (coarser grain, larger pores; shale, smaller)."""
    fac, bed_of, f_of = beds.fac, beds.bed_of, beds.f_of
    nb = fac.size
    phi_m = np.clip(_bed_values(rng, bed_of, nb, P["phi"][fac], P["phi_sd"][fac], 60, 0.8), 0.01, 0.32)
    vsh = np.clip(_bed_values(rng, bed_of, nb, P["vsh"][fac], P["vsh_sd"][fac], 80, 0.8), 0.0, 0.6)
    grain = np.clip(_bed_values(rng, bed_of, nb, np.zeros(nb), np.full(nb, 1.0), 40, 0.7), -2.5, 2.5)
    lt2 = P["lt2"][f_of] + 0.28 * grain - 1.2 * (vsh - P["vsh"][f_of])
    return _Rock(phi_m, vsh, grain, lt2)


def _wall(cfg: SynthConfig, rng, beds: _Beds) -> _Wall:
    """The acoustic image's grid (rows past the logged interval) and its sinusoids."""
    dip = np.deg2rad(rng.uniform(4, 16))
    azdip = rng.uniform(0, 2 * np.pi)
    na, top = cfg.amp_bins, beds.top
    az_a = (np.arange(na) + 0.5) * 2 * np.pi / na
    za = np.arange(top - 1.0 - rng.uniform(0, 1), top + cfg.thickness + 1.0 + rng.uniform(0, 1),
                   cfg.amp_step)
    shift_a = BIT_RADIUS * np.tan(dip) * np.sin(az_a - azdip)      # sinusoid of a dipping plane
    zz = za[:, None] - shift_a[None, :]                             # stratigraphic depth per pixel
    idx = np.clip(((zz - beds.z0) / beds.dz).astype(np.int64), 0, beds.z.size - 1)
    return _Wall(dip, azdip, az_a, za, idx)


def _vug_objects(rng, beds: _Beds, rate: np.ndarray, wall: _Wall) -> np.ndarray:
    """Vugs as Poisson objects on the wall (``rate`` per m2 of wall on the truth grid),
    lognormal radii, drawn as discs on the acoustic image's grid: the (rows, bins) vug mask."""
    za, na = wall.za, wall.az.size
    circ = 2 * np.pi * BIT_RADIUS
    expected = rate * beds.dz * circ
    n_vug = rng.poisson(expected)
    vz = np.repeat(beds.z, n_vug) + rng.uniform(0, beds.dz, n_vug.sum())
    vaz = rng.uniform(0, 2 * np.pi, vz.size)
    vr = np.clip(rng.lognormal(np.log(VUG_RADIUS[0]), VUG_RADIUS[1], vz.size), 0.003, 0.04)  # m
    vug_mask = np.zeros((za.size, na), dtype=bool)
    px_az = circ / na
    for d, a, r in zip(vz, vaz, vr):
        i0, i1 = np.searchsorted(za, [d - r, d + r])
        if i1 <= i0:
            continue
        ja = int(a / (2 * np.pi) * na)
        half = int(np.ceil(r / px_az))
        js = np.arange(ja - half, ja + half + 1) % na
        dzz = (za[i0:i1, None] - d) / r
        daz = ((js[None, :] - ja + na / 2) % na - na / 2) * px_az / r
        vug_mask[i0:i1, js] |= (dzz ** 2 + daz ** 2) <= 1.0
    return vug_mask


def _vug_porosity(z: np.ndarray, za: np.ndarray, vug_mask: np.ndarray) -> np.ndarray:
    """Vug porosity (v/v) on the truth grid from the share of the wall in vugs."""
    vug_cover = vug_mask.mean(axis=1)
    return np.clip(np.interp(z, za, gaussian_filter1d(vug_cover, 2)) * 0.8, 0, 0.3)


def _bed_boundaries(beds: _Beds) -> np.ndarray:
    """A unit-height bump at each bed boundary on the truth grid (dark lines on the images)."""
    z = beds.z
    boundary = np.zeros(z.size)
    boundary[np.clip(((beds.bounds[1:-1] - beds.z0) / beds.dz).astype(int), 0, z.size - 1)] = 1.0
    return gaussian_filter1d(boundary, 2.0) * 2.0 * 2.5066


def _amplitude_image(rng, wall: _Wall, d: _ImageDrivers):
    """Acoustic amplitude (mV): darker with porosity and shale, a texture whose coarse share
    shows large grains, dark bed boundaries and dark vugs. Returns the image, its texture and
    the coarse field."""
    za, az_a, idx = wall.za, wall.az, wall.idx
    fine = rng.standard_normal((za.size, az_a.size)).astype(np.float32)
    coarse = gaussian_filter(rng.standard_normal((za.size, az_a.size)).astype(np.float32),
                             (2.5, 2.5), mode=("nearest", "wrap"))
    coarse /= coarse.std()
    w = d.tex_w[idx]
    texture = d.tex[idx] * ((1 - w) * fine + w * coarse)
    ecc = 1.0 + 0.06 * np.cos(az_a - rng.uniform(0, 2 * np.pi))
    amp = (85.0 - 140.0 * d.phi[idx] - 60.0 * d.vsh[idx] + texture) * ecc[None, :]
    amp -= 18.0 * d.boundary[idx]
    amp[d.vug_mask] -= rng.uniform(25, 40, d.vug_mask.sum())
    amp += rng.normal(0, 1.5, amp.shape)
    return amp, texture, coarse


def _transit_time_image(rng, wall: _Wall, d: _ImageDrivers, coarse: np.ndarray) -> np.ndarray:
    """Acoustic transit time (us): the hole's radius (washouts in shale, breakouts in one
    direction, a rough wall in shale) and the longer path into vugs."""
    az_a, idx, vsh = wall.az, wall.idx, d.vsh
    breakout = (np.cos(2 * (az_a - rng.uniform(0, np.pi))) > 0.85)[None, :] * \
        np.clip(_ar_field(rng, vsh.size, 400), 0, None)[idx] * 0.006
    radius = BIT_RADIUS + d.wash[idx] + breakout + 0.002 * coarse * (vsh[idx] > 0.2)
    tt = 55.0 + 2 * (radius - 0.0508) / 1500.0 * 1e6 / 100.0 + 4.0 * d.vug_mask
    tt += rng.normal(0, 0.4, tt.shape)
    return tt


def _resistive_image(cfg: SynthConfig, rng, beds: _Beds, wall: _Wall, d: _ImageDrivers,
                     texture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resistive pad image (ohm.m; NaN between pads, which rotate with the tool) on its own
    finer grid: Archie-like in porosity, lower in shale, conductive mud in vugs. Returns the
    image's depths (m) and values."""
    za, na, nr = wall.za, wall.az.size, cfg.res_bins
    zr = np.arange(za[0] + rng.uniform(0, 0.3), za[-1] - rng.uniform(0, 0.3), cfg.res_step)
    az_r = (np.arange(nr) + 0.5) * 2 * np.pi / nr
    shift_r = BIT_RADIUS * np.tan(wall.dip) * np.sin(az_r - wall.azdip)
    idx_r = np.clip(((zr[:, None] - shift_r[None, :] - beds.z0) / beds.dz).astype(np.int64), 0,
                    beds.z.size - 1)
    ia_r = np.clip(np.searchsorted(za, zr), 0, za.size - 1)
    ja_r = np.clip((az_r / (2 * np.pi) * na).astype(int), 0, na - 1)
    vug_r = d.vug_mask[ia_r][:, ja_r]
    log_r = np.log10(0.08) - 1.9 * np.log10(np.clip(d.phi[idx_r], 0.02, 0.4)) - 1.2 * d.vsh[idx_r]
    log_r += 0.04 * texture[ia_r][:, ja_r] - 0.8 * vug_r + 0.15 * d.boundary[idx_r] * -1
    res = 10 ** (log_r + rng.normal(0, 0.03, log_r.shape))
    pad_rot = 0.6 * np.sin(zr / 7.0) + rng.uniform(0, 2 * np.pi)     # tool rotation, rad
    pad_pos = ((az_r[None, :] - pad_rot[:, None]) % (2 * np.pi / cfg.res_pads)) / \
        (2 * np.pi / cfg.res_pads)
    res[pad_pos > cfg.res_pad_cover] = np.nan
    return zr, res


def _images(cfg: SynthConfig, rng, beds: _Beds, wall: _Wall, d: _ImageDrivers) -> dict:
    """The acoustic (amplitude, transit time) and resistive images rendered from ``d``."""
    amp, texture, coarse = _amplitude_image(rng, wall, d)
    tt = _transit_time_image(rng, wall, d, coarse)
    zr, res = _resistive_image(cfg, rng, beds, wall, d, texture)
    return dict(za=wall.za, amp=amp.astype(np.float32), tt=tt.astype(np.float32), zr=zr,
                res=res.astype(np.float32))


def _rock_drivers(beds: _Beds, rock: _Rock, P: dict[str, np.ndarray],
                  vug_mask: np.ndarray) -> _ImageDrivers:
    """Images of the rock: matrix porosity, shale, the facies' texture made coarse by large
    grains, the beds' boundaries, the shale's washouts and the rock's vugs."""
    return _ImageDrivers(rock.phi_m, rock.vsh, P["tex"][beds.f_of],
                         np.clip(0.5 + 0.3 * rock.grain, 0.05, 0.95), _bed_boundaries(beds),
                         rock.wash, vug_mask)


def _log_drivers(rng, lithology: str, beds: _Beds, wall: _Wall, log: _Logging,
                 logs: dict[str, np.ndarray]) -> _ImageDrivers:
    """Images of the recorded logs (``image_source: logs``): each driver is an increasing or
    decreasing function of ONE log as written (noise included), interpolated onto the truth
    grid, and the vug objects are drawn at a rate set by the neutron's excess porosity. One log
    per driver, monotone: the images then hold nothing a model of the logs could not make from
    the logs themselves (no combination of logs worked out for it)."""
    rho_ma = _MATRIX[lithology][0]
    on_z = {c: np.interp(beds.z, log.zl, v) for c, v in logs.items()}
    phi = np.clip((rho_ma - on_z["RHOB"]) / (rho_ma - 1.0), 0.01, 0.32)        # density
    vsh = np.clip((on_z["GR"] - 18.0) / 150.0, 0.0, 0.6)                       # gamma ray
    tex = np.clip(2.5 + 15.0 * on_z["NPHI"], 2.5, 6.0)                         # neutron
    lrt = np.log10(on_z["RT"])                                                 # resistivity
    tex_w = np.clip(0.5 + 0.3 * (lrt - np.median(lrt)) / (lrt.std() + 1e-12), 0.05, 0.95)
    rate = np.clip(on_z["NPHI"] - 0.12, 0.0, None) / (0.8 * _MEAN_VUG_AREA)    # neutron
    vug_mask = _vug_objects(rng, beds, rate, wall)
    wash = np.clip(on_z["CALI"] / (2 * 39.37) - BIT_RADIUS, 0.0, 0.02)         # caliper
    return _ImageDrivers(phi, vsh, tex, tex_w, np.zeros(beds.z.size), wash, vug_mask)


def _conventional_logs(rng, log: _Logging, lithology: str, rock: _Rock, phi_vug: np.ndarray,
                       noise: float = 1.0) -> dict[str, np.ndarray]:
    """GR, density, neutron, sonic (matrix porosity, a fifth of the vugs), Archie deep
    resistivity (water saturation from pore size and shale), caliper and PEF, each at its
    tool's vertical resolution and with its noise. ``phi_vug``: the vug porosity the tools
    read (``log_vug_visibility`` times the rock's); ``noise``: multiplier of every tool's noise."""
    rho_ma, dt_ma, pef_ma = _MATRIX[lithology]
    phi_m, vsh = rock.phi_m, rock.vsh
    phi_t = phi_m + phi_vug
    at, n = log.at, log.zl.size
    rho = (1 - phi_t - vsh) * rho_ma + vsh * 2.60 + phi_t * 1.0
    nphi = phi_t + 0.28 * vsh
    dt = dt_ma + phi_m * (189.0 - dt_ma) * 0.95 + 0.2 * phi_vug * 141 + 35 * vsh
    sw = np.clip(0.15 + 0.5 * (1 - np.clip((rock.lt2 - 1.0) / 1.6, 0, 1)) + 0.2 * vsh, 0.1, 1.0)
    rt = 0.04 / (np.clip(phi_t, 0.02, None) ** 2.0 * sw ** 2.0)
    gr = 18.0 + 150.0 * vsh
    return {
        "GR": at(gr, 0.4) + rng.normal(0, 3.0 * noise, n),
        "RHOB": at(rho, 0.45) + rng.normal(0, 0.012 * noise, n),
        "NPHI": at(nphi, 0.6) + rng.normal(0, 0.008 * noise, n),
        "DT": at(dt, 0.6) + rng.normal(0, 1.0 * noise, n),
        "RT": 10 ** (at(np.log10(rt), 1.0) + rng.normal(0, 0.02 * noise, n)),
        "CALI": at(2 * 39.37 * (BIT_RADIUS + rock.wash), 0.3) + rng.normal(0, 0.03 * noise, n),
        "PEF": at(pef_ma + (3.4 - pef_ma) * vsh, 0.3) + rng.normal(0, 0.08 * noise, n),
    }


def _lognormal_bins(mu: np.ndarray, sd: float) -> np.ndarray:
    """Unit-sum lognormal T2 modes on the T2 bins, centred at ``mu`` (log10 ms) per depth."""
    w = np.exp(-0.5 * ((_LOG_T2_CENTRES[None, :] - mu[:, None]) / sd) ** 2)
    return w / w.sum(axis=1, keepdims=True)


def _t2_distribution(rng, log: _Logging, rock: _Rock, phi_vug: np.ndarray, micro_of: np.ndarray) \
        -> np.ndarray:
    """NMR T2 distribution (v/v per bin, depths x bins): clay-bound water, the matrix pores'
    microporous (12 ms) and macroporous (their T2) parts, vugs (mostly 900 ms), echo noise.
    ``micro_of``: the facies' microporous share on the truth grid."""
    at, n = log.at, log.zl.size
    nmr_phi_m = at(rock.phi_m, 0.45)
    nmr_vug = at(phi_vug, 0.45)
    nmr_lt2 = at(rock.lt2, 0.45)
    cbw = 0.22 * at(rock.vsh, 0.45)
    micro = at(micro_of * np.clip(1 - 0.15 * rock.grain, 0.5, 1.5), 0.45).clip(0.05, 0.95)
    dist = (cbw[:, None] * _lognormal_bins(np.full(n, np.log10(1.2)), 0.25)
            + (micro * nmr_phi_m)[:, None] * _lognormal_bins(np.full(n, np.log10(12.0)), 0.3)
            + ((1 - micro) * nmr_phi_m)[:, None] * _lognormal_bins(nmr_lt2, 0.3)
            + 0.9 * nmr_vug[:, None] * _lognormal_bins(np.full(n, np.log10(900.0)), 0.25)
            + 0.1 * nmr_vug[:, None] * _lognormal_bins(np.full(n, np.log10(30.0)), 0.3))
    return np.clip(dist + rng.normal(0, 0.0012, dist.shape), 0, None)


def make_well(cfg: SynthConfig, index: int, column: tuple[np.ndarray, np.ndarray]) -> dict:
    """All arrays of one well (truth, logs, images) as a dict; writing is done by :func:`write_field`."""
    rng = np.random.default_rng([cfg.seed, index])
    beds = _lateral_beds(cfg, rng, index, column)
    P = facies_properties(cfg.lithology)
    f_of = beds.f_of
    rock = _rock(rng, beds, P)
    wall = _wall(cfg, rng, beds)
    vug_mask = _vug_objects(rng, beds, P["vug"][f_of] * np.exp(0.3 * rock.grain), wall)
    phi_vug = _vug_porosity(beds.z, wall.za, vug_mask)
    log = _Logging(beds.z, np.arange(beds.top, beds.top + cfg.thickness, NMR_STEP))
    seen = phi_vug if cfg.log_vug_visibility == 1.0 else cfg.log_vug_visibility * phi_vug
    if cfg.image_source == "rock":
        images = _images(cfg, rng, beds, wall, _rock_drivers(beds, rock, P, vug_mask))
        logs = _conventional_logs(rng, log, cfg.lithology, rock, seen, cfg.log_noise)
    else:   # the images are made from the logs as recorded
        logs = _conventional_logs(rng, log, cfg.lithology, rock, seen, cfg.log_noise)
        images = _images(cfg, rng, beds, wall,
                         _log_drivers(rng, cfg.lithology, beds, wall, log, logs))
    dist = _t2_distribution(rng, log, rock, phi_vug, P["micro"][f_of])
    zl, at = log.zl, log.at
    cutoff = LITHOLOGY_CUTOFF_MS[cfg.lithology]
    return dict(t2_cutoff_ms=cutoff, name=f"SYN-{index + 1:02d}", index=index, top=beds.top,
                zl=zl, logs=logs, **images, dist=dist, nmr=nmr_summary(dist, T2_EDGES_MS, cutoff),
                truth=dict(phi_m=at(rock.phi_m, 0.05), phi_vug=at(phi_vug, 0.05),
                           vsh=at(rock.vsh, 0.05), facies=np.interp(zl, beds.z, f_of),
                           grain=at(rock.grain, 0.05)),
                x=float(rng.uniform(0, 5000)), y=float(rng.uniform(0, 5000)))


def nmr_summary(dist: np.ndarray, edges: np.ndarray,
                cutoff_ms: float = LITHOLOGY_CUTOFF_MS["carbonate"]) -> dict[str, np.ndarray]:
    """Vendor-style summary curves of a T2 distribution (v/v; T2LM in ms; KTIM in mD), by the
    same partition petro's targets use and the vendor's KTIM convention: Timur-Coates with
    phi = total NMR porosity (TCMR), C = 10, FFI = CMFF, BVI = BFV."""
    part = t2_partition(dist, edges, cutoff_ms=cutoff_ms, clay_cutoff_ms=CLAY_CUTOFF_MS)
    bfv = part["TCMR"] - part["FFI"]          # the vendor's bound fluid: clay- and capillary-bound
    ktim = timur_coates(part["TCMR"], part["FFI"], bfv)
    return {"TCMR": part["TCMR"], "CMRP_3MS": part["PHIE_NMR"], "CMFF": part["FFI"],
            "BFV": bfv, "T2LM": part["T2LM"],
            "KTIM": np.where(np.isfinite(ktim), ktim, np.nan)}


def _make_and_write(out: Path, cfg: SynthConfig, index: int, column, has_nmr: bool) -> dict:
    return write_well(out, make_well(cfg, index, column), has_nmr=has_nmr)


def write_field(out_dir: str | Path, cfg: SynthConfig, progress=None, n_jobs: int = 1,
                pool: Callable[[int], AbstractContextManager[Executor]] | None = None) -> list[dict]:
    """Write the field's wells as LAS 2.0 files into ``out_dir`` (one sub-folder per well).

    Wells are made in ``n_jobs`` processes of ``pool`` (a context manager factory giving an
    executor of that many workers: the application's process pool,
    :func:`petro.app.engine.local_pool`); without a pool, here, one after the other. Each well
    depends only on (seed, well index), so the field is the same whatever the number of
    processes. Returns per-well summaries (name, files, NMR present). Files are written
    atomically; rerunning rewrites identical content.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    column = field_column(cfg)
    n_nmr = max(1, int(round(cfg.wells * cfg.nmr_fraction)))
    jobs = [(out, cfg, i, column, i < n_nmr) for i in range(cfg.wells)]
    summaries = []
    if pool is None or n_jobs <= 1 or cfg.wells <= 1:
        for job in jobs:
            summaries.append(_make_and_write(*job))
            if progress:
                progress(summaries[-1]["well"])
    else:
        with pool(min(n_jobs, cfg.wells)) as ex:
            for fut in as_completed([ex.submit(_make_and_write, *job) for job in jobs]):
                summaries.append(fut.result())
                if progress:
                    progress(summaries[-1]["well"])
    return sorted(summaries, key=lambda s: s["well"])


def write_well(out: Path, w: dict, *, has_nmr: bool) -> dict:
    name = w["name"]
    wd = out / name
    feet = w["index"] % 4 == 2           # some wells were logged and exported in feet
    du = "F" if feet else "M"
    dscale = 1 / 0.3048 if feet else 1.0
    header = {"WELL": name, "FLD": "PETRO SYNTHETIC", "COMP": "petro", "UWI": f"SYN{w['index']:06d}",
              "XCOORD": f"{w['x']:.1f}", "YCOORD": f"{w['y']:.1f}"}
    files = []
    logs = dict(w["logs"])
    units = {"GR": "GAPI", "RHOB": "G/CC", "NPHI": "V/V", "DT": "US/F", "RT": "OHMM", "CALI": "IN",
             "PEF": "B/E"}
    if w["index"] % 3 == 1:                       # vendor spellings and units vary by well
        logs = {"GR_EDTC": logs["GR"], "RHOZ": logs["RHOB"], "TNPH": logs["NPHI"] * 100,
                "DTCO": logs["DT"] / 0.3048, "AT90": logs["RT"], "HCAL": logs["CALI"],
                "PEFZ": logs["PEF"]}
        units = {"GR_EDTC": "GAPI", "RHOZ": "G/C3", "TNPH": "%", "DTCO": "US/M", "AT90": "OHMM",
                 "HCAL": "IN", "PEFZ": "B/E"}
    f = wd / f"{name}_triple_combo.las"
    write_las(f, w["zl"] * dscale, logs, units=units, well=header, depth_unit=du, fmt="%.5f")
    files.append(f.name)
    if has_nmr:
        edges = T2_EDGES_MS
        nmr = {k: v for k, v in w["nmr"].items()}
        cols = dict(nmr)
        nunits = {"TCMR": "V/V", "CMRP_3MS": "V/V", "CMFF": "V/V", "BFV": "V/V", "T2LM": "MS",
                  "KTIM": "MD"}
        for j in range(w["dist"].shape[1]):
            cols[f"T2BIN{j + 1:02d}"] = w["dist"][:, j]
            nunits[f"T2BIN{j + 1:02d}"] = "V/V"
        desc = {f"T2BIN{j + 1:02d}": f"T2 distribution bin {j + 1} ({edges[j]:.4g}-{edges[j + 1]:.4g} ms)"
                for j in range(edges.size - 1)}
        params = {"T2MIN": (f"{edges[0]:.4g}", "MS", "Lower edge of the first T2 bin"),
                  "T2MAX": (f"{edges[-1]:.4g}", "MS", "Upper edge of the last T2 bin"),
                  "T2NBIN": (str(edges.size - 1), "", "Number of log-spaced T2 bins"),
                  "T2CUT": (f"{w['t2_cutoff_ms']:g}", "MS", "T2 cutoff used for CMFF / BFV"),
                  "CBWCUT": (f"{CLAY_CUTOFF_MS:g}", "MS", "Clay-bound water cutoff")}
        f = wd / f"{name}_cmr.las"
        write_las(f, w["zl"] * dscale, cols, units=nunits, descriptions=desc, well=header,
                  params=params, depth_unit=du, fmt="%.6f")
        files.append(f.name)
    amp_cols = {f"AMP{j + 1:03d}": w["amp"][:, j] for j in range(w["amp"].shape[1])}
    tt_cols = {f"TT{j + 1:03d}": w["tt"][:, j] for j in range(w["tt"].shape[1])}
    f = wd / f"{name}_ubi.las"
    write_las(f, w["za"] * dscale, {**amp_cols, **tt_cols},
              units={**{k: "MV" for k in amp_cols}, **{k: "US" for k in tt_cols}},
              descriptions={**{k: "Acoustic amplitude, bin " + k[3:] for k in amp_cols},
                            **{k: "Acoustic transit time, bin " + k[2:] for k in tt_cols}},
              well=header, depth_unit=du, fmt="%.2f")
    files.append(f.name)
    res_cols = {f"IMG[{j + 1}]": w["res"][:, j] for j in range(w["res"].shape[1])}
    f = wd / f"{name}_fmi.las"
    write_las(f, w["zr"] * dscale, res_cols, units={k: "OHMM" for k in res_cols},
              descriptions={k: "Resistivity image button " + k[4:-1] for k in res_cols},
              well=header, depth_unit=du, fmt="%.4g")
    files.append(f.name)
    return {"well": name, "files": files, "nmr": has_nmr, "folder": str(wd)}
