"""Configs are prepared once per dataset before they reach the store."""

import pytest
from PIL import Image

from kcnn.config import ExperimentConfig
from kcnn.errors import DataError
from kcnn.queue import submit
from kcnn.queue.submit import prepare_configs


def _folder(root, mode):
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            Image.new(mode, (8, 8)).save(root / name / f"{index}.png")
    return root


def test_auto_colour_mode_becomes_what_the_folder_is(tmp_path):
    gray = _folder(tmp_path / "gray", "L")
    configs = prepare_configs([ExperimentConfig(dataset=str(gray), seed=seed) for seed in range(3)])
    assert {config.color_mode for config in configs} == {"grayscale"}
    assert prepare_configs([ExperimentConfig()])[0].color_mode == "rgb"  # the built-in set is RGB
    rgb = ExperimentConfig(dataset=str(gray), color_mode="rgb")
    assert prepare_configs([rgb]) == [rgb]


def test_each_dataset_is_resolved_once_and_only_when_needed(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "rgb", "RGB")
    calls = []
    real = submit.resolve_color_mode
    monkeypatch.setattr(submit, "resolve_color_mode", lambda *a: calls.append(a) or real(*a))
    prepare_configs([ExperimentConfig(dataset=str(folder), color_mode="rgb", seed=s) for s in range(4)])
    assert calls == []
    prepare_configs([ExperimentConfig(dataset=str(folder), seed=s) for s in range(4)])
    assert calls == [(str(folder), "auto")]


def test_a_missing_dataset_is_refused(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        prepare_configs([ExperimentConfig(dataset=str(tmp_path / "missing"))])
