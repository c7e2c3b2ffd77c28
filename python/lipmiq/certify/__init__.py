"""Certification: witnesses re-checked in float64, and activation regions decided by verified LPs."""
