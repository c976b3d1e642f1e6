"""The ablation sweep: Optuna studies per variant, trials tracked in MLflow, seeded confirmation runs.

Run it as `python -m harness.sweep CONFIG`. Importing this package does not import Optuna.

The top package (only `plugins.py`, `fetch_weights.py` and `cli.py` sit above it): it may import
every other package (it writes the report at the end of a sweep); only `harness.cli` imports it.
"""
