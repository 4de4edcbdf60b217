"""The test set, the validation split and K folds: known answers and the properties every split keeps."""

import numpy as np
import pytest

from kcnn.config import ExperimentConfig
from kcnn.data import ImageSet, fold_numbers, hold_out_test, split_dataset, split_for, stratified_split
from kcnn.errors import DataError

LABELS = np.repeat(np.arange(3), [10, 7, 5])  # 22 images, classes of 10, 7 and 5


def test_without_test_set_or_folds_the_split_is_the_one_kcnn_always_made():
    old = stratified_split(LABELS, 0.2, 3)
    new = split_for(LABELS, val_split=0.2, split_seed=3)
    assert np.array_equal(old.val, [6, 9, 16, 19])  # pinned: runs queued before folds existed reproduce
    assert np.array_equal(new.train, old.train) and np.array_equal(new.val, old.val) and len(new.test) == 0


def test_known_fold_assignment():
    numbers = fold_numbers(np.repeat([0, 1], [4, 3]), folds=3, split_seed=0)
    assert numbers.tolist() == [2, 1, 0, 0, 2, 0, 1]  # pinned: a change would move every fold's images
    assert sorted(numbers[:4].tolist()) == [0, 0, 1, 2] and sorted(numbers[4:].tolist()) == [0, 1, 2]


@pytest.mark.parametrize(("folds", "test_split", "seed"), [(2, 0.0, 0), (3, 0.2, 3), (5, 0.0, 11), (4, 0.15, 7)])
def test_folds_partition_the_images_outside_the_test_set(folds, test_split, seed):
    splits = [split_for(LABELS, split_seed=seed, test_split=test_split, folds=folds, fold=i) for i in range(folds)]
    test = splits[0].test
    everything = set(range(len(LABELS)))
    for split in splits:
        assert np.array_equal(split.test, test)  # one test set for every fold
        assert not set(split.train) & set(split.val) and not (set(split.train) | set(split.val)) & set(test)
        assert set(split.train) | set(split.val) | set(test) == everything
    validated = np.concatenate([split.val for split in splits])
    assert sorted(validated.tolist()) == sorted(everything - set(test.tolist()))  # each image validated once
    for label in range(3):  # stratified: a class's fold sizes differ by at most one
        sizes = [int(np.sum(LABELS[split.val] == label)) for split in splits]
        assert max(sizes) - min(sizes) <= 1


def test_the_test_set_takes_its_share_of_every_class_and_depends_only_on_the_split_seed():
    test, rest = hold_out_test(LABELS, 0.2, split_seed=5)
    assert [int(np.sum(LABELS[test] == c)) for c in range(3)] == [2, 1, 1]  # round(n · 0.2), at least 1
    assert sorted(np.concatenate([test, rest]).tolist()) == list(range(len(LABELS)))
    same = split_for(LABELS, val_split=0.3, split_seed=5, test_split=0.2)
    folds = split_for(LABELS, split_seed=5, test_split=0.2, folds=3, fold=1)
    assert np.array_equal(same.test, test) and np.array_equal(folds.test, test)  # val_split and folds never move it
    assert not np.array_equal(hold_out_test(LABELS, 0.2, split_seed=6)[0], test)


def test_a_class_too_small_for_the_folds_is_one_line_naming_it():
    with pytest.raises(DataError) as raised:
        fold_numbers(LABELS, folds=6, class_names=("a", "b", "c"))
    assert str(raised.value) == (
        "Class 'c' has 5 image(s) outside the test set; 6-fold cross-validation needs at least 6 per class. "
        "Use fewer folds (`--folds 5`) or add images."
    )


def test_a_class_too_small_for_a_test_set_is_one_line():
    with pytest.raises(DataError, match="Class 'b' has 2 image"):
        hold_out_test(np.array([0, 0, 0, 1, 1]), 0.2, class_names=("a", "b"))


def test_a_pre_split_folder_refuses_folds_and_a_test_set_with_one_line():
    data = ImageSet(
        images=np.zeros((4, 8, 8, 3), np.uint8),
        labels=np.array([0, 1, 0, 1]),
        class_names=("a", "b"),
        val_mask=np.array([False, False, True, True]),
    )
    kept = split_dataset(data, ExperimentConfig(input_size=8, channels=(4,), pool_size=1))
    assert kept.val.tolist() == [2, 3] and kept.train.tolist() == [0, 1]
    config = ExperimentConfig(input_size=8, channels=(4,), pool_size=1, folds=3, test_split=0.1, dataset="/d")
    with pytest.raises(DataError) as raised:
        split_dataset(data, config)
    assert str(raised.value) == (
        "/d is split into train/ and val/ folders, which fix the validation images; --test-split 0.1 and --folds 3 "
        "need(s) one folder of class sub-folders. Merge train/ and val/, or drop the option."
    )
