"""Per-model evaluation, one registry keyed by model name (``model: zheng`` in params.yaml).

A model's own measurements and figures — Zheng et al.'s latent-vs-image noise KL, DivNoising's
posterior samples, MLSM's artefact close-ups, UW-CVGAN's compression factor, the CVAE's
conditional accuracy, the two-stage VAE's second sampler — live here, not in the model: a
model module holds the model's maths only. Each module registers a
:class:`~vaerepro.evaluation.extras.base.ModelEvaluation` subclass::

    @register_evaluation("zheng")
    class ZhengEvaluation(ModelEvaluation): ...

and the task's shared evaluation calls :func:`evaluation_for` with the model's registered name;
a name without extras gets the defaults. Importing this package imports every module in it, so
all are registered and a new one is a new file, with no list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from vaerepro.evaluation.extras.base import (
    GenerativeEvaluation,
    ModelEvaluation,
    RestorationContext,
    RestorationExtras,
)

_EVALUATIONS: dict[str, ModelEvaluation] = {}


def register_evaluation(*model_names: str) -> Callable[[type[ModelEvaluation]], type[ModelEvaluation]]:
    """Class decorator: ``cls`` evaluates the models registered under ``model_names``."""

    def decorate(cls: type[ModelEvaluation]) -> type[ModelEvaluation]:
        for name in model_names:
            if name in _EVALUATIONS and type(_EVALUATIONS[name]) is not cls:
                raise ValueError(
                    f"evaluation extras for '{name}' are already registered by {type(_EVALUATIONS[name]).__qualname__}"
                )
            _EVALUATIONS[name] = cls()
        return cls

    return decorate


def evaluation_for(model_name: str) -> ModelEvaluation:
    """The evaluation hooks of model ``model_name`` (the defaults when it registered none)."""
    return _EVALUATIONS.get(model_name, _DEFAULT)


def registered_evaluations() -> tuple[str, ...]:
    """Model names with their own evaluation extras, sorted."""
    return tuple(sorted(_EVALUATIONS))


_DEFAULT = ModelEvaluation()

# Registration: each module in this package registers its class; a new one needs no edit here.
for _member in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_member.name}")

__all__ = [
    "GenerativeEvaluation",
    "ModelEvaluation",
    "RestorationContext",
    "RestorationExtras",
    "evaluation_for",
    "register_evaluation",
    "registered_evaluations",
]
