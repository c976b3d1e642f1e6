"""From a YAML file and a command line to resolved runs: the resolver (`resolve`: strict loading,
`--set`, variants and presets), where each knob applies and the rules of `sweep.space`
(`knob_space`), a run's settings as the stores hold them (`recipe`), the users' plugins imported in
a guard (`plugin_loader`), what every command line shares (`cli_args`) and the sweep's samplers and
pruners by name (`samplers`).

It sits above the entries it resolves: it may import `harness.core`, `harness.recipes`,
`harness.models`, `harness.data`, `harness.stores` and `harness.metrics`, never the training loop,
tracking, the report or the sweep.
"""
