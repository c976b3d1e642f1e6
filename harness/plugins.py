"""The API for users' own entries, from their own module: `from harness.plugins import ...`.

A config names the module under `plugins: [my_module]`; it is imported (from the working
directory or PYTHONPATH) before the rest of the config is validated, so its entries and knobs
are checked like built-ins. docs/extending.md has a complete example ("Your own recipes: plugins") and
says where each kind of entry goes.

- `@register_loss(name, knobs=...)` on a class with `critic(real_scores, fake_scores)` and
  `generator(fake_scores)` (either may take `train=` to read its knobs);
- `@register_constraint(name, knobs=..., diagnostics=...)` on a penalty function
  `(D, real, fake, train) -> (term or None, {name: scalar})`, or on a class with any of
  `penalty`, `after_critic_step(D, train)` and `prepare(D, train)`;
- `@register_schedule(name, steps_on=..., knobs=...)` on `build(optimizer, train, direction)`
  returning a torch LR scheduler (or None), stepped after every generator step or each evaluation;
- `@register_dataset(name, kind=..., ...)` on `load(data_cfg, device) -> Dataset`;
- `@register_metric(name, direction=..., datasets=...)` on `fn(ctx) -> float`;
- `Knob(name, type, default, min=..., max=..., doc=...)` declares a `train.<name>` key.
"""

from harness.constraints import register_constraint
from harness.data import register_dataset
from harness.knobs import Knob
from harness.losses import register_loss
from harness.metrics import register_metric
from harness.schedules import register_schedule

__all__ = ["Knob", "register_constraint", "register_dataset", "register_loss", "register_metric", "register_schedule"]
