"""A user's own recipes, outside the package: a least-squares loss, a drift penalty, an LR warm-up, an
optimizer, an architecture and a generator regularizer, each with a knob, and a metric.

tests/test_plugins.py copies this file into a scratch directory and names it under `plugins:`;
the README's example is the loss half of it.
"""

from harness.plugins import (GeneratorHook, Knob, register_arch, register_constraint, register_generator_hook,
                             register_loss, register_metric, register_optimizer, register_schedule)


@register_loss("least_squares", knobs=(Knob("ls_target", float, 1.0, min=0.1, max=10.0,
                                            doc="the score D is trained to give real data (LSGAN's b = c)"),))
class LeastSquares:
    """LSGAN (Mao et al. 2017), a = 0 and b = c = ls_target: squared distances instead of log-losses."""

    @staticmethod
    def critic(real_scores, fake_scores, train):
        return 0.5 * (real_scores - train.ls_target).square().mean() + 0.5 * fake_scores.square().mean()

    @staticmethod
    def generator(fake_scores, train):
        return 0.5 * (fake_scores - train.ls_target).square().mean()


@register_constraint("drift", knobs=(Knob("drift_weight", float, 0.1, min=0.0, doc="weight of E[D(real)^2]"),),
                     diagnostics=("drift",))
def drift_penalty(D, real, fake, train):
    """Drift penalty (Karras et al. 2018): drift_weight * E[D(real)^2] keeps the critic's scores near 0."""
    drift = D(real).square().mean()
    return train.drift_weight * drift, {"drift": drift}


@register_schedule("warmup", knobs=(Knob("warmup_steps", int, 100, min=1,
                                         doc="generator steps of the linear learning-rate warm-up"),))
def warmup(optimizer, train, direction):
    """Linear warm-up from lr / warmup_steps to lr, then constant (common with Adam on transformers and GANs)."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / train.warmup_steps))


@register_optimizer("nesterov", knobs=(Knob("momentum", float, 0.9, min=0.0, max=1.0, max_exclusive=True,
                                             doc="SGD's Nesterov momentum"),))
def nesterov(parameters, train):
    """SGD with Nesterov momentum at train.lr (a baseline some GAN papers tune against Adam)."""
    import torch

    return torch.optim.SGD(parameters, lr=train.lr, momentum=train.momentum, nesterov=True)


@register_arch("gated_mlp", kind="points", knobs=(Knob("hidden", int, 32, min=2, max=1024,
                                                       doc="units of the gated MLP's hidden layers"),))
class GatedMLP:
    """A two-layer MLP whose hidden units are gated by a sigmoid of a parallel projection (GLU-style)."""

    @staticmethod
    def generator(sample_shape, model):
        import torch.nn as nn

        return nn.Sequential(nn.Linear(model.z_dim, 2 * model.hidden), nn.GLU(), nn.Linear(model.hidden, sample_shape[0]))

    @staticmethod
    def critic(sample_shape, model, norm):
        import torch.nn as nn

        from harness.models import Critic

        return Critic(nn.Sequential(nn.Linear(sample_shape[0], 2 * model.hidden), nn.GLU(), nn.Linear(model.hidden, 1)))


@register_generator_hook("orthogonal", enabled=lambda train: train.ortho_weight > 0, diagnostics=("ortho",),
                         knobs=(Knob("ortho_weight", float, 0.0, min=0.0,
                                     doc="BigGAN's orthogonal regularization of G's weights (0: off)"),))
class OrthogonalRegularization(GeneratorHook):
    """BigGAN's (Brock et al. 2019) off-diagonal orthogonal regularization: ortho_weight * sum ||W W^T * (1 - I)||_F^2."""

    def penalty(self, G, z, fake):
        import torch

        total = 0.0
        for name, weight in G.named_parameters():
            if weight.dim() < 2:
                continue
            w = weight.flatten(1)
            gram = w @ w.T
            total = total + (gram * (1 - torch.eye(gram.shape[0], device=w.device))).square().sum()
        return self.train.ortho_weight * total, {"ortho": total}


@register_metric("radius_error", direction="minimize", needs=("points",), default=False)
def radius_error(ctx):
    """|mean distance from the origin of the generated points - that of the real points| (minimize; 0 at best)."""
    real = ctx.dataset.sample(ctx.fake.shape[0])
    return float((ctx.fake.norm(dim=1).mean() - real.norm(dim=1).mean()).abs())
