"""The model's settings: one home for choices, defaults and validation, nested in the pipeline's config."""

from __future__ import annotations

import dataclasses

import pytest

from models.settings import ConfigError, ModelSettings
from pipeline.config import PROFILES, PipelineConfig, field_names, make_config
from pipeline.pipeline import model_settings


def test_profiles_set_the_nested_model_settings(tmp_path):
    config = make_config("quick", tmp_path, families=("fcnn", "cnn"), seed=7)
    assert isinstance(config.model, ModelSettings)
    assert config.model.stems == PROFILES["quick"]["stems"] and config.model.families == ("fcnn", "cnn")
    assert config.seed == config.model.seed == 7
    # The pipeline's config has no copy of a model field.
    model_fields = {f.name for f in dataclasses.fields(ModelSettings)}
    assert not model_fields & {f.name for f in dataclasses.fields(PipelineConfig)}
    assert model_fields <= field_names()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"stems": (3,)}, "stems must be one of 1, 2, 4, 8"),
        ({"families": ("rnn",)}, "families must be one of fcnn, cnn, resnet, transfer"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd, got 'rmsprop'"),
        ({"weight_decay": -1e-4}, "weight_decay must be a number from 0 to 0.1, got -0.0001"),
        ({"augment_probability": 0.9}, "augment_probability must be a number from 0 to 0.5, got 0.9"),
        ({"augmentations": ("flip", "blur")}, "augmentations must be one of flip, .*erase, got 'blur'"),
        ({"augmentations": ("flip", "flip")}, "augmentations must not repeat a transformation"),
        ({"augmentations": "flip"}, "augmentations must be a list of names, got the string 'flip'"),
        ({"families": "cnn"}, "families must be a list of names, got the string 'cnn'"),
        ({"warmup_epochs": -1}, "warmup_epochs must be a non-negative integer, got -1"),
        ({"schedule": "step"}, "schedule must be one of cosine, linear, got 'step'"),
        ({"weight_averaging": 1.0}, "weight_averaging must be a number from 0 to 0.9999, got 1.0"),
        ({"weight_averaging": True}, "weight_averaging must be a number from 0 to 0.9999, got True"),
        ({"use_tuned": "no"}, "use_tuned must be true or false, got 'no'"),
        ({"families": ("transfer",), "stems": (2,)}, "transfer backbones need inputs of at least 32 pixels"),
        ({"tuner": "grid"}, "tuner must be one of none, hyperband, random, bayesian"),
        ({"learning_rate": 0}, "learning_rate must be a number above 0 and at most 0.1, got 0"),
        ({"learning_rate": 0.5}, "learning_rate must be a number above 0 and at most 0.1, got 0.5"),
        ({"learning_rate": "fast"}, "learning_rate must be a number .* got 'fast'"),
    ],
)
def test_one_validation_answers_for_the_config_and_the_model_code(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("test", tmp_path, **overrides)
    with pytest.raises(ConfigError, match=message):
        ModelSettings(image_size=32, **overrides)


def test_the_model_code_gets_the_configured_settings_with_the_upscale_on(tmp_path):
    config = make_config("test", tmp_path, tuner="none")
    settings = model_settings(config)
    assert settings.upscale and settings.tuner == "none"
    assert dataclasses.replace(settings, upscale=False) == config.model
    assert (
        ModelSettings.from_custom_config({**settings.to_custom_config(), "code_fingerprint": "x"}) == settings
    )


def test_the_learning_rate_is_a_setting_the_tuner_starts_from_and_the_trainer_uses(tmp_path):
    from models.search_space import hyperparameters_for_training, search_space

    config = make_config("test", tmp_path, learning_rate=5e-4)
    assert config.model.learning_rate == 5e-4
    assert ModelSettings.from_custom_config(config.model.to_custom_config()).learning_rate == 5e-4
    space = search_space(config.model)
    # The Tuner's first trial (its defaults) and the Trainer's rate without a Tuner.
    assert space.get("learning_rate") == 5e-4
    (rates,) = [hp.values for hp in space.space if hp.name == "learning_rate"]
    assert rates == [3e-3, 1e-3, 5e-4, 3e-4]  # the search's own choices kept, the setting's added
    assert hyperparameters_for_training(config.model, None).get("learning_rate") == 5e-4
    # The profile's default, where no override is given.
    assert (
        search_space(make_config("test", tmp_path).model).get("learning_rate") == ModelSettings.learning_rate
    )


def test_the_quick_and_full_profiles_train_their_recipes_and_keep_the_tuners_trials_as_a_record(tmp_path):
    from models.search_space import hyperparameters_for_training, search_space

    full = make_config("full", tmp_path).model
    assert not full.use_tuned and full.families == ("resnet",) and full.optimizer == "sgd"
    tuned = search_space(full)
    tuned.values["learning_rate"] = 0.02  # a trial's pick
    trained = hyperparameters_for_training(full, tuned.get_config())
    assert trained.get("learning_rate") == full.learning_rate == 0.1
    quick = make_config("quick", tmp_path).model
    assert not quick.use_tuned
    assert hyperparameters_for_training(quick, tuned.get_config()).get("learning_rate") == quick.learning_rate
    # The test profile trains the Tuner's best trial.
    small = make_config("test", tmp_path).model
    assert hyperparameters_for_training(small, tuned.get_config()).get("learning_rate") == 0.02
    # SGD's search tries SGD's rates, Adam's Adam's.
    (rates,) = [hp.values for hp in search_space(full).space if hp.name == "learning_rate"]
    assert rates == [0.1, 0.05, 0.02]
