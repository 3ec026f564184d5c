"""The one registry of per-model evaluation (issue 12): keyed by model name, defaults otherwise."""

from __future__ import annotations

import pytest

from vaerepro.evaluation.extras import (
    ModelEvaluation,
    evaluation_for,
    register_evaluation,
    registered_evaluations,
)
from vaerepro.models import model_class, registered_models
from vaerepro.models.base import TASKS


def test_every_extras_entry_names_a_registered_model():
    assert set(registered_evaluations()) <= set(registered_models())
    assert {"zheng", "divnoising", "mlsm", "uwcvgan", "vae", "cvae", "two_stage_vae"} <= set(registered_evaluations())


def test_a_model_without_extras_gets_the_defaults():
    defaults = evaluation_for("clahe")
    assert type(defaults) is ModelEvaluation
    assert defaults.restoration_extras(None, None).metrics == {}
    assert defaults.bits_per_dim_not_measured(None) is None


def test_every_model_states_its_task():
    assert {model_class(name).task for name in registered_models()} <= set(TASKS)
    assert model_class("zheng").task == "denoising" and model_class("mlsm").task == "enhancement"
    assert model_class("vae").task == "generation"


def test_a_second_registration_for_one_name_is_refused():
    class Other(ModelEvaluation):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_evaluation("zheng")(Other)
