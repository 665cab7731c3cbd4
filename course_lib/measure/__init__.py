"""The measurement layer: cost, timing, statistics, cache and speed experiments."""
