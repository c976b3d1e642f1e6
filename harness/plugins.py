"""The API for users' own entries, from their own module: `from harness.plugins import ...`.

A config names the module under `plugins: [my_module]`; it is imported (from the working
directory or PYTHONPATH) before the rest of the config is validated, so its entries and knobs
are checked like built-ins. docs/extending.md has a complete example of each and says where each
kind of entry goes.

- `@register_loss(name, knobs=...)` on a class with `critic(real_scores, fake_scores)` and
  `generator(fake_scores)` (either may take `train=` to read its knobs);
- `@register_constraint(name, knobs=..., diagnostics=...)` on a penalty function
  `(D, real, fake, train) -> (term or None, {name: scalar})`, or on a class with any of
  `penalty`, `after_critic_step(D, train)` and `prepare(D, train)`;
- `@register_schedule(name, steps_on=..., knobs=...)` on `build(optimizer, train, direction)`
  returning a torch LR scheduler (or None), stepped after every generator step or each evaluation;
- `@register_optimizer(name, knobs=...)` on `build(parameters, train)` returning a torch optimizer at
  `train.lr` (built once for G and once for D);
- `@register_arch(name, kind=..., knobs=...)` on a class with `generator(sample_shape, model)` and
  `critic(sample_shape, model, norm)`; its knobs are `model.<name>` keys, searchable as `model.<name>`;
- `@register_generator_hook(name, enabled=..., knobs=...)` on a `GeneratorHook` subclass (a
  generator regularizer, an average of G's weights);
- `@register_dataset(name, kind=..., ...)` on `load(data_cfg, device) -> Dataset`;
- `@register_metric(name, direction=..., needs=(...))` on `fn(ctx) -> float`, `needs` naming the
  dataset properties it reads ("images", "labels", "points", "modes");
- `Knob(name, type, default, min=..., max=..., doc=...)` declares a `train.<name>` key (or, on an
  architecture, a `model.<name>` key).
"""

from harness.recipes.constraints import register_constraint
from harness.data import register_dataset
from harness.recipes.generator_hooks import GeneratorHook, register_generator_hook
from harness.core.knobs import Knob
from harness.recipes.losses import register_loss
from harness.metrics import register_metric
from harness.models import register_arch
from harness.recipes.optimizers import register_optimizer
from harness.recipes.schedules import register_schedule

__all__ = ["GeneratorHook", "Knob", "register_arch", "register_constraint", "register_dataset",
           "register_generator_hook", "register_loss", "register_metric", "register_optimizer",
           "register_schedule"]
