"""The search space's batch sizes, per profile."""

from __future__ import annotations

from models.search_space import search_space
from models.settings import ModelSettings
from pipeline.config import make_config


def test_batch_size_choices_stop_at_the_configured_batch_size():
    assert search_space(ModelSettings(batch_size=16)).space[4].values == [16]
    assert search_space(ModelSettings(batch_size=64)).space[4].values == [16, 32, 64]
    assert search_space(ModelSettings(batch_size=128)).get("batch_size") == 128


def test_test_profile_searches_small_batches_only(tmp_path):
    config = make_config("test", tmp_path)
    assert config.model.batch_size <= 32 and config.model.train_epochs >= 10
