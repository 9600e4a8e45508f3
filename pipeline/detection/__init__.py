"""Negative-surge detection: window aggregation, significance tests, alert rules."""
