"""Figures, tables and the rendered report."""
