"""Model families, registered by name (``model: vae`` in ``params.yaml``).

Importing this package imports every module in it, so every model is registered: a new model
is a new file here, with no list to edit (:mod:`vaerepro.lineage` reads the discovery too).
See :mod:`vaerepro.models.base` for the common contract and
:mod:`vaerepro.models.phases` for how models declare their optimizers.
"""

import importlib
import pkgutil

from vaerepro.models.base import LatentVariableModel, RegisteredModel
from vaerepro.models.distributions import DiagonalGaussian
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.registry import (
    build_model,
    model_class,
    options_class,
    parse_options,
    register,
    registered_models,
)

for _member in pkgutil.iter_modules(__path__):  # registration: each model module registers itself
    importlib.import_module(f"{__name__}.{_member.name}")

__all__ = [
    "DiagonalGaussian",
    "LatentVariableModel",
    "OptimizerGroup",
    "Phase",
    "RegisteredModel",
    "build_model",
    "model_class",
    "options_class",
    "parse_options",
    "register",
    "registered_models",
]
