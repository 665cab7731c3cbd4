"""The data layer: shipped datasets, your own data, synthetic tasks and their checks."""
