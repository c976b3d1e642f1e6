"""Named variants: each a preset of the independent axes (loss, constraint, schedule).

A preset's values override the top-level `train:` section; a variant's own overrides in the
YAML override the preset; sweep knobs override both. Adding a variant is one entry here.
Presets flagged `default` make up `variants:` when an experiment names none (the mission's four).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core.registry import Registry


@dataclass(frozen=True)
class Preset:
    sections: dict[str, dict[str, Any]]  # section -> key -> value, e.g. {"train": {"loss": "bce"}}
    default: bool = False  # one of the variants an experiment gets when it names none
    doc: str = field(default="", compare=False)

    def get(self, section: str, fallback: Any = None) -> Any:
        return self.sections.get(section, fallback)


PRESETS: Registry[Preset] = Registry("variant preset")
PRESETS.add("vanilla", Preset({"train": {"loss": "bce", "constraint": "none", "scheduler": "none", "n_critic": 1}},
                              default=True, doc="non-saturating GAN (Goodfellow et al. 2014)"))
PRESETS.add("wgan_clip", Preset({"train": {"loss": "wasserstein", "constraint": "clip", "scheduler": "none"}},
                                default=True, doc="WGAN with weight clipping (Arjovsky et al. 2017)"))
PRESETS.add("wgan_gp", Preset({"train": {"loss": "wasserstein", "constraint": "gp", "scheduler": "none"}},
                              default=True, doc="WGAN-GP (Gulrajani et al. 2017)"))
PRESETS.add("wgan_gp_sched", Preset({"train": {"loss": "wasserstein", "constraint": "gp", "scheduler": "linear"}},
                                    default=True, doc="WGAN-GP with the linear LR decay of its CIFAR-10 code"))
PRESETS.add("sngan", Preset({"train": {"loss": "hinge", "constraint": "spectral_norm", "scheduler": "none"}},
                            doc="hinge loss + spectral normalization (Miyato et al. 2018)"))
PRESETS.add("wgan_lp", Preset({"train": {"loss": "wasserstein", "constraint": "gp_one_sided", "scheduler": "none"}},
                              doc="WGAN with the one-sided (Lipschitz) penalty (Petzka et al. 2018)"))
PRESETS.add("r1", Preset({"train": {"loss": "bce", "constraint": "r1", "scheduler": "none", "n_critic": 1}},
                         doc="non-saturating loss + R1 on real data (Mescheder et al. 2018)"))


def default_presets() -> tuple[str, ...]:
    """The presets an experiment without `variants:` compares, in registration order."""
    return tuple(name for name in PRESETS if PRESETS.get(name).default)
