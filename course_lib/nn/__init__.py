"""The model layer: what notebooks 01-05, 07 and 09-13 build (layers, sharing plans, models, counts)."""
