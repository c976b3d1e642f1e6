"""The vocabulary every other package shares: the config's schema, and what an entry declares itself with.

Holds the user-facing errors and the exit codes (`errors`), strict parsing of YAML into frozen
dataclasses (`strict`), knobs (`knobs`), the registry class and its catalog (`registry`) and the
config's dataclasses (`schema`). It is the bottom of the layers: it imports nothing else of the
harness, and neither torch nor Optuna, so reading a config's shape is cheap.
"""
