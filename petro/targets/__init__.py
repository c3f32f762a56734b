"""NMR targets: effective porosity and permeability (Timur-Coates or SDR)."""

from petro.targets.nmr import TargetParams, compute_targets, t2_partition, timur_coates, sdr

__all__ = ["TargetParams", "compute_targets", "t2_partition", "timur_coates", "sdr"]
