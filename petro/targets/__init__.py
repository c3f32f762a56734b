"""NMR targets: effective porosity and permeability (Timur-Coates or SDR)."""

from petro.targets.nmr import Targets, TargetParams, compute_targets, t2_partition, timur_coates, sdr

__all__ = ["Targets", "TargetParams", "compute_targets", "t2_partition", "timur_coates", "sdr"]
