"""Datasets: official file readers, the synthetic motion engine, transforms."""
