"""Estimators, cross-validation by well, calibrated uncertainty and novelty (no file or MLflow I/O)."""
