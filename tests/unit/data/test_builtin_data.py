import hashlib

import numpy as np
import pytest

from kcnn.data import load_dataset, stratified_split
from kcnn.data.builtin import CLASSES, RENDER_SIZE, generate_shapes, render_image
from kcnn.errors import DataError


def test_same_seed_gives_identical_bytes_and_other_seeds_differ():
    first, labels = generate_shapes(seed=3, images_per_class=2)
    again, _ = generate_shapes(seed=3, images_per_class=2)
    other, _ = generate_shapes(seed=4, images_per_class=2)
    assert hashlib.sha256(first.tobytes()).digest() == hashlib.sha256(again.tobytes()).digest()
    assert not np.array_equal(first, other)
    assert first.shape == (2 * len(CLASSES), RENDER_SIZE, RENDER_SIZE, 3)
    assert first.dtype == np.uint8
    assert list(labels) == [label for label in range(len(CLASSES)) for _ in range(2)]


def test_more_images_per_class_keep_the_first_ones():
    few, _ = generate_shapes(seed=0, images_per_class=1)
    more, labels = generate_shapes(seed=0, images_per_class=3)
    assert np.array_equal(few, more[labels.searchsorted(np.arange(len(CLASSES)))])


def test_at_least_eight_classes_rendered_at_128_pixels():
    assert len(CLASSES) >= 8
    assert render_image(0, 0, 0).shape == (128, 128, 3)


def test_images_are_not_blank_and_classes_differ():
    images, labels = generate_shapes(seed=0, images_per_class=4)
    assert all(image.std() > 10 for image in images)
    means = [images[labels == label].mean() for label in range(len(CLASSES))]
    assert len(set(np.round(means, 3))) == len(CLASSES)


@pytest.mark.parametrize(("size", "mode", "channels"), [(32, "rgb", 3), (90, "grayscale", 1), (128, "rgb", 3)])
def test_load_dataset_resizes(size, mode, channels):
    data = load_dataset("builtin:shapes", size, mode)
    assert data.images.shape == (80 * len(CLASSES), size, size, channels)
    assert data.images.dtype == np.uint8
    assert data.num_classes == len(CLASSES)


def test_unknown_dataset_is_a_data_error():
    with pytest.raises(
        DataError,
        match=r"^Unknown dataset 'builtin:mnist': built-in datasets are builtin:shapes; or give a folder path\.$",
    ):
        load_dataset("builtin:mnist", 32)


def test_stratified_split_is_disjoint_per_class_and_seeded():
    labels = np.repeat(np.arange(4), [10, 20, 5, 3])
    split = stratified_split(labels, 0.2, split_seed=0)
    assert not set(split.train) & set(split.val)
    assert len(split.train) + len(split.val) == len(labels)
    assert [int((labels[split.val] == c).sum()) for c in range(4)] == [2, 4, 1, 1]
    assert np.array_equal(split.val, stratified_split(labels, 0.2, split_seed=0).val)
    assert not np.array_equal(split.val, stratified_split(labels, 0.2, split_seed=1).val)


def test_split_needs_two_images_per_class():
    with pytest.raises(DataError, match=r"^Class 'b' has 1 image\(s\)"):
        stratified_split(np.array([0, 0, 1]), 0.2, class_names=("a", "b"))


@pytest.mark.slow
def test_rendered_shapes_are_cached_on_disk_and_redrawn_when_unreadable(cache_in_tmp, monkeypatch):
    from kcnn.data import builtin, loading

    loading._rendered_shapes.cache_clear()
    drawn = []
    real = builtin.generate_shapes
    monkeypatch.setattr(builtin, "generate_shapes", lambda seed: drawn.append(seed) or real(seed=seed))
    first = loading._rendered_shapes()
    path = loading._rendered_shapes_path()
    assert path.parent == cache_in_tmp and path.exists() and drawn == [0]
    assert not list(cache_in_tmp.glob("*.tmp"))
    loading._rendered_shapes.cache_clear()
    second = loading._rendered_shapes()  # a new process would do the same: read the file
    assert drawn == [0]
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    path.write_bytes(path.read_bytes()[:1000])  # truncated, e.g. by a full disk
    loading._rendered_shapes.cache_clear()
    third = loading._rendered_shapes()
    assert drawn == [0, 0] and np.array_equal(first[0], third[0])
    loading._rendered_shapes.cache_clear()
