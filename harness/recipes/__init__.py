"""The recipe's axes, each a registry of entries chosen by name: losses, Lipschitz constraints (with
the gradient penalties and spectral norm they use), LR schedules, optimizers and generator hooks
(the EMA), and the presets that name a combination of them (`vanilla`, `wgan_gp_sched`, ...).

May import `harness.core` only. The training loop reads these registries and never names an entry.
"""
