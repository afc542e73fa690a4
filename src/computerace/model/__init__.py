"""The model's equations, one mechanism per module; simulate.py composes them month by month."""
