"""The experiments layer: runs, presets, sweeps, provenance and notebook experiments."""
