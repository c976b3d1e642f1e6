"""Architectures by name (`@register_arch`): one module per family, shared blocks in `blocks`.

Importing this package registers `mlp` (2-D points), `dcgan`, `resnet` (the SNGAN / WGAN-GP CIFAR
ResNet) and `sngan_cnn` (Miyato et al.'s standard CNN). A user's own architecture is one
`@register_arch` in a plugin (docs/extending.md).

May import `harness.core` only. Critics return raw scores; the loss decides what to do with them.
"""

from harness.models.base import (ARCHS, Architecture, Critic, build_models, generate, parameter_count,
                                 register_arch)
from harness.models import mlp as _mlp  # noqa: F401  (registers mlp)
from harness.models import dcgan as _dcgan  # noqa: F401  (registers dcgan)
from harness.models import resnet as _resnet  # noqa: F401  (registers resnet)
from harness.models import sngan_cnn as _sngan_cnn  # noqa: F401  (registers sngan_cnn)

__all__ = ["ARCHS", "Architecture", "Critic", "build_models", "generate", "parameter_count", "register_arch"]
