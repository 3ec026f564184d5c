"""Evaluation: per-experiment metrics records and the code that fills them."""
