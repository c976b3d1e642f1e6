"""The ablation sweep: Optuna studies per variant, trials tracked in MLflow, seeded confirmation runs.

Run it as `python -m harness.sweep CONFIG`. Importing this package does not import Optuna.
"""
