"""training.train.record_validation: the history, the best model and early stopping, step by step."""

from __future__ import annotations

import pytest

from training.config import ConfigError, TrainingConfig
from training.train import RunState, record_validation


def _validate(state: RunState, step: int, value: float, t: TrainingConfig) -> bool:
    state.step.global_step = step
    return record_validation(state, {"epoch": 0, "step": step, "average_precision": value}, t)


def test_best_is_kept_and_patience_stops_the_run() -> None:
    t = TrainingConfig(early_stopping_metric="average_precision", early_stopping_patience=2)
    state = RunState()
    assert [_validate(state, s, v, t) for s, v in [(1, 0.6), (2, 0.7), (3, 0.65)]] == [True, True, False]
    assert (state.best_step, state.best_value, state.bad_evals, state.stop) == (2, 0.7, 1, False)
    assert _validate(state, 4, 0.69, t) is False
    assert state.stop and state.bad_evals == 2 and state.best_step == 2
    assert [h["step"] for h in state.history] == [1, 2, 3, 4] and state.last_eval_step == 4


def test_min_mode_and_latest_model_without_select_best() -> None:
    t = TrainingConfig(
        early_stopping_metric="average_precision", early_stopping_mode="min", select_best=False
    )
    state = RunState()
    assert _validate(state, 1, 0.5, t) and _validate(state, 2, 0.6, t)  # worse, but the latest is kept
    assert (state.best_step, state.best_value, state.bad_evals) == (2, 0.5, 1)
    assert not state.stop  # patience 0: never stops early


def test_unknown_metric_names_the_choices() -> None:
    t = TrainingConfig(early_stopping_metric="acc")
    with pytest.raises(
        ConfigError, match=r"early_stopping_metric is 'acc'.*choose one of \['average_precision'"
    ):
        _validate(RunState(), 1, 0.5, t)
