"""Named variants: each a preset of the independent axes (loss, constraint, schedule).

A preset's values override the top-level `train:` section; a variant's own overrides in the
YAML override the preset; sweep knobs override both. Adding a variant is one entry here.
"""

from __future__ import annotations

from typing import Any

from harness.registry import Registry

Preset = dict[str, dict[str, Any]]  # section -> key -> value, e.g. {"train": {"loss": "bce"}}

PRESETS: Registry[Preset] = Registry("variant preset")
PRESETS.add("vanilla", {"train": {"loss": "bce", "constraint": "none", "scheduler": "none", "n_critic": 1}})
PRESETS.add("wgan_clip", {"train": {"loss": "wasserstein", "constraint": "clip", "scheduler": "none"}})
PRESETS.add("wgan_gp", {"train": {"loss": "wasserstein", "constraint": "gp", "scheduler": "none"}})
PRESETS.add("wgan_gp_sched", {"train": {"loss": "wasserstein", "constraint": "gp", "scheduler": "linear"}})
