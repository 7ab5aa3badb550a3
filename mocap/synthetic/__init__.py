"""Synthetic data with ground truth: a virtual studio, procedural motion, detector errors."""
