"""Training: model families, cross-validated selection, Optuna tuning, ensembles, tracking."""
