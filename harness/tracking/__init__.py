"""MLflow: the write side of a trial (`write`: experiments, parent runs, the `RunLogger` callback,
summaries), the read side for the report (`read`: imports neither the trainer nor Optuna) and
resumable trials (`resume`: mid-trial checkpoints as artifacts).

May import `harness.train` and everything below it; never the report or the sweep.
"""
