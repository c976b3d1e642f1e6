"""Knobs: the hyperparameters a registry entry declares for itself (`lambda_gp`, `clip_value`, `ngf`, ...).

A knob is read from its section like any other key, with its own type, range, default and doc:
the knobs of losses, constraints, schedules and generator hooks are `train.<name>` keys, those of
architectures `model.<name>` keys (the registry says which section its entries' knobs live in).
Registering an entry declares its knobs here, so the config schema, `--set`, the sweep's search
space and the report all know them without a hand-written field per knob. It lives in
`harness.core`, the bottom of the layers: it imports neither a registry of entries nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core.strict import parse_value, rule


@dataclass(frozen=True)
class Knob:
    """One hyperparameter of a registry entry; `train.<name>` (or `model.<name>` for an architecture) in the YAML."""

    name: str
    type: type  # int, float, str or bool
    default: Any
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[Any, ...] | None = None
    doc: str = field(default="", compare=False)

    @property
    def meta(self) -> dict[str, Any]:
        """The strict-parsing rule of this knob (the same shape as a dataclass field's metadata)."""
        return rule(min=self.min, max=self.max, min_exclusive=self.min_exclusive,
                    max_exclusive=self.max_exclusive, choices=self.choices, doc=self.doc)


# name -> declaration, name -> the config section it is read from ("train" or "model"), and
# name -> the (registry kind, entry name) pairs that read it. A name is unique across sections.
KNOBS: dict[str, Knob] = {}
SECTIONS: dict[str, str] = {}
OWNERS: dict[str, list[tuple[str, str]]] = {}
TRAIN, MODEL = "train", "model"
# The schema's own fields of each section (train: lr, n_critic, ...; model: z_dim, ...). A knob of the
# same name would shadow the field: its value would replace the field's, and the recipe guard, which
# keeps a knob only where it applies, would lose the field. The schema reserves its names here;
# neither side may take the other's.
RESERVED: dict[str, set[str]] = {}


def reserve(names: list[str], section: str = TRAIN) -> None:
    """Reserve the schema's field names of `section` (called by `harness.core.schema`, whichever registers first)."""
    for name in names:
        if SECTIONS.get(name) == section:
            raise ValueError(f"knob {name!r} of {OWNERS[name][0]} shadows the schema field {section}.{name}")
    RESERVED.setdefault(section, set()).update(names)


def declare(kind: str, entry: str, knobs: tuple[Knob, ...], section: str = TRAIN) -> None:
    """Record the knobs of a newly registered entry; two entries may share a knob only if they agree."""
    for knob in knobs:  # check them all before recording any: a refused entry leaves no trace
        if not isinstance(knob, Knob):
            raise TypeError(f"{kind} {entry!r}: knobs must be Knob(...) declarations, not {knob!r}")
        if knob.name in RESERVED.get(section, ()):
            raise ValueError(f"{kind} {entry!r} declares knob {knob.name!r}, which would shadow the schema field "
                             f"{section}.{knob.name}; give the knob a name of its own")
        known = KNOBS.get(knob.name)
        if known is not None and (known != knob or SECTIONS[knob.name] != section):
            raise ValueError(f"{kind} {entry!r} declares knob {section}.{knob.name} as {knob}, but "
                             f"{OWNERS[knob.name][0]} declared {SECTIONS[knob.name]}.{knob.name} as {known}")
        parse_value(knob.type, knob.default, f"default of knob {knob.name}", knob.meta)
    for knob in knobs:
        KNOBS[knob.name] = knob
        SECTIONS[knob.name] = section
        OWNERS.setdefault(knob.name, []).append((kind, entry))


def undeclare(kind: str, entry: str) -> None:
    """Forget an entry's knobs (a test that registers a temporary entry cleans up with this)."""
    for name in [n for n, owners in OWNERS.items() if (kind, entry) in owners]:
        OWNERS[name].remove((kind, entry))
        if not OWNERS[name]:
            del OWNERS[name], KNOBS[name], SECTIONS[name]


def knobs_of(section: str) -> dict[str, Knob]:
    """The knobs read from `section` ("train" or "model"), by name."""
    return {name: knob for name, knob in KNOBS.items() if SECTIONS[name] == section}


def owned_by(name: str) -> list[tuple[str, str]]:
    """The (kind, entry) pairs that read knob `name`; empty for a schema field."""
    return list(OWNERS.get(name, ()))
