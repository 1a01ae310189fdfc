"""Seismic windows and records in memory, their torch datasets, and the real reference records."""
