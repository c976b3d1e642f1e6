"""The hand-written training loops the harness is measured against.

`BareGAN` is what a user writes from a tutorial: plain Adam, the loss inlined, no logging, no
callbacks, no registries. It shares only the model builder with the harness (so G and D are
identical) and the public `harness.recipes.losses.gradient_penalty`. Two flavours:

- *bare*: batches come from the same data already on the device; nothing is read back to the host.
- *tutorial* (the PyTorch DCGAN tutorial's habits): a DataLoader over CPU tensors with shuffle,
  `.to(device)` per batch, and `.item()` of the losses every step.

Like the reference WGAN-GP code, the generator step freezes D's parameters (no weight gradients
are computed for them); the harness does the same, so both sides do the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.config.resolve import RunConfig
from harness.recipes.losses import gradient_penalty
from harness.models import build_models


@dataclass
class BareGAN:
    """Everything a hand-written loop keeps in local variables."""

    cfg: RunConfig
    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    schedulers: list[Any]
    batches: Iterator[Tensor]
    device: torch.device
    read_losses: bool = False  # the tutorial's `.item()` every step: a host sync per call on CUDA
    losses: list[float] = field(default_factory=list)  # what the tutorial keeps for its loss plot


def build_bare(cfg: RunConfig, sample_shape: tuple[int, ...], device: torch.device, batches: Iterator[Tensor],
               read_losses: bool = False, fused_adam: bool = False, channels_last: bool = False) -> BareGAN:
    """G, D and Adam exactly as the harness configures them; the schedule written out by hand."""
    train = cfg.train
    if train.loss not in ("bce", "wasserstein") or train.constraint not in ("none", "clip", "gp") \
            or train.scheduler not in ("none", "linear") or train.optimizer not in ("adam", "rmsprop"):
        raise SystemExit(f"error: the bare loop knows the four default variants with Adam or RMSProp only, not "
                         f"{train.loss}/{train.constraint}/{train.scheduler}/{train.optimizer}")
    G, D = (m.to(device) for m in build_models(sample_shape, cfg.model))
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_G, opt_D = (hand_written_optimizer(model, cfg, fused_adam) for model in (G, D))
    schedulers: list[Any] = []
    if train.scheduler == "linear":  # lr * (1 - step/steps), as in the WGAN-GP CIFAR-10 code
        schedulers = [torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.0, total_iters=train.steps)
                      for opt in (opt_G, opt_D)]
    return BareGAN(cfg, G, D, opt_G, opt_D, schedulers, batches, device, read_losses)


def hand_written_optimizer(model: nn.Module, cfg: RunConfig, fused_adam: bool) -> torch.optim.Optimizer:
    train = cfg.train
    if train.optimizer == "rmsprop":  # WGAN's, as its code wrote it
        return torch.optim.RMSprop(model.parameters(), lr=train.lr, alpha=train.rmsprop_alpha)
    fused = True if fused_adam else None  # None: torch's default (foreach on CUDA)
    return torch.optim.Adam(model.parameters(), lr=train.lr, betas=(train.beta1, train.beta2), fused=fused)


def bare_critic_step(gan: BareGAN) -> Tensor:
    """One critic update: fresh real batch, fake batch without a graph into G, loss, penalty, clip."""
    train = gan.cfg.train
    real = next(gan.batches)
    z = torch.randn(train.batch_size, gan.cfg.model.z_dim, device=gan.device)
    with torch.no_grad():
        fake = gan.G(z)
    real_scores, fake_scores = gan.D(real), gan.D(fake)
    if train.loss == "bce":
        d_loss = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    else:
        d_loss = fake_scores.mean() - real_scores.mean()
    if train.constraint == "gp":
        d_loss = d_loss + train.lambda_gp * gradient_penalty(gan.D, real, fake)
    gan.opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    gan.opt_D.step()
    if train.constraint == "clip":
        with torch.no_grad():
            for p in gan.D.parameters():
                p.clamp_(-train.clip_value, train.clip_value)
    return d_loss


def bare_generator_step(gan: BareGAN) -> Tensor:
    train = gan.cfg.train
    z = torch.randn(train.batch_size, gan.cfg.model.z_dim, device=gan.device)
    for p in gan.D.parameters():  # no weight gradients for D in G's step
        p.requires_grad_(False)
    fake_scores = gan.D(gan.G(z))
    g_loss = F.softplus(-fake_scores).mean() if train.loss == "bce" else -fake_scores.mean()
    gan.opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.opt_G.step()
    for p in gan.D.parameters():
        p.requires_grad_(True)
    return g_loss


def bare_step(gan: BareGAN) -> None:
    """n_critic critic updates, one generator update, the per-step schedule."""
    for _ in range(gan.cfg.train.n_critic):
        d_loss = bare_critic_step(gan)
        if gan.read_losses:
            gan.losses.append(d_loss.item())
    g_loss = bare_generator_step(gan)
    if gan.read_losses:
        gan.losses.append(g_loss.item())
    for scheduler in gan.schedulers:
        scheduler.step()


def run_steps(gan: BareGAN, steps: int, step: Callable[[BareGAN], Any] = bare_step) -> None:
    for _ in range(steps):
        step(gan)
    gan.losses.clear()  # a benchmark must not grow memory without bound


# --- where real batches come from -----------------------------------------------------------------


def shuffled_batches(data: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Epochs of a device-resident tensor in random order, last short batch dropped: what
    DataLoader(shuffle=True, drop_last=True) yields, without the loader."""
    if batch_size > len(data):
        raise SystemExit(f"error: batch size {batch_size} exceeds the {len(data)} samples of the data tensor")
    while True:
        perm = torch.randperm(len(data), device=data.device)
        for start in range(0, len(data) - batch_size + 1, batch_size):
            yield data[perm[start : start + batch_size]]


def mixture_batches(centers: Tensor, sigma: float, batch_size: int) -> Iterator[Tensor]:
    """Fresh points of an equal-weight Gaussian mixture every batch, as the WGAN-GP toy code draws them."""
    while True:
        idx = torch.randint(0, len(centers), (batch_size,), device=centers.device)
        yield centers[idx] + sigma * torch.randn(batch_size, centers.shape[1], device=centers.device)


def harness_data_batches(dataset: Any, batch_size: int) -> Iterator[Tensor]:
    """The bare loop's batches from the harness's own data: its image tensor or its mixture's modes."""
    if getattr(dataset, "kind", None) == "images":
        return shuffled_batches(dataset.images, batch_size)
    if getattr(dataset, "centers", None) is not None:
        return mixture_batches(dataset.centers, dataset.sigma, batch_size)
    raise SystemExit("error: the bare loop supports image datasets and Gaussian-mixture toys (ring8, grid25)")


def loader_batches(images: Tensor, batch_size: int, device: torch.device, workers: int,
                   channels_last: bool = False) -> Iterator[Tensor]:
    """The tutorial's input pipeline: DataLoader over CPU tensors with shuffle, `.to(device)` per batch."""
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=workers)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    while True:
        for (batch,) in loader:
            yield batch.to(device, memory_format=memory_format)
