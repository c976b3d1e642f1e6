"""GAN ablation harness: one trainer, four recipes, Optuna sweeps, MLflow tracking, markdown reports."""

__version__ = "0.1.0"
