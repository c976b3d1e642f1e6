"""What the harness knows about its stores without talking MLflow or Optuna: their addresses (`urls`:
schemes, defaults, redaction), the names they hold (`keys`: study names, stages, user attributes,
tags), whether a store holds its application's whole schema (`schema`), bounded, visible retries of
calls to a service that may go away (`retry`) and those retries' library logs as one line (`quiet_logs`).

May import `harness.core` only, so the metrics, the resolver and the report can all name a stored
key or check a URL without importing a store client.
"""
