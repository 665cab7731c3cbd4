"""The view layer: the only modules that import matplotlib or ipywidgets."""
