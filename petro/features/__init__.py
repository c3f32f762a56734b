"""Depth-aligned features from image logs and conventional logs (arrays and DataFrames only)."""
