"""The model folder and what it holds: weights, calibration, operating points, the TF-IDF part."""
