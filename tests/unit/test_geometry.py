import random

import pytest

from kcnn.errors import ConfigError
from kcnn.geometry import conv_out, effective_kernel, min_input_size, plan_network, pool_out, same_out


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation", "expected"),
    [
        (32, 3, 1, 0, 1, 30),
        (32, 4, 1, 0, 1, 29),
        (32, 2, 1, 0, 2, 30),  # 2×2 kernel dilated by 2 spans 3 pixels
        (90, 5, 2, 2, 1, 45),
        (9, 4, 1, 0, 3, 0),  # span 10 > 9: empty
        (7, 3, 2, 0, 1, 3),
    ],
)
def test_conv_out_known_values(size, kernel, stride, padding, dilation, expected):
    assert conv_out(size, kernel, stride, padding, dilation) == expected


def test_pool_out_defaults_stride_to_window():
    assert pool_out(31, 2) == 15
    assert pool_out(5, 3) == 1
    assert pool_out(1, 2) == 0


def test_same_out_and_effective_kernel():
    assert same_out(9, 2) == 5
    assert same_out(8, 1) == 8
    assert effective_kernel(2, 2) == 3
    assert effective_kernel(4, 3) == 10


def test_conv_out_matches_torch_conv2d_for_random_settings():
    torch = pytest.importorskip("torch")
    rng = random.Random(1234)
    checked_empty = 0
    for _ in range(300):
        size = rng.randint(1, 40)
        kernel = rng.randint(1, 6)
        stride = rng.randint(1, 4)
        padding = rng.randint(0, 3)
        dilation = rng.randint(1, 4)
        expected = conv_out(size, kernel, stride, padding, dilation)
        layer = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
        image = torch.zeros(1, 1, size, size)
        if expected < 1:
            checked_empty += 1
            with pytest.raises(RuntimeError):
                layer(image)
            continue
        assert tuple(layer(image).shape[-2:]) == (expected, expected), (size, kernel, stride, padding, dilation)
    assert checked_empty > 10


def test_pool_out_matches_torch_maxpool2d():
    torch = pytest.importorskip("torch")
    for size in range(2, 30):
        for window in range(1, 5):
            if window > size:
                continue
            out = torch.nn.MaxPool2d(window)(torch.zeros(1, 1, size, size))
            assert out.shape[-1] == pool_out(size, window)


def test_plan_shapes_receptive_field_params_and_macs():
    plan = plan_network(64, 3, channels=(16, 32), kernel_sizes=(2, 2), dilations=(2, 1), strides=(1, 1), num_classes=10)
    assert [layer.name for layer in plan.layers] == ["conv1", "pool1", "conv2", "pool2", "flatten", "dense", "output"]
    assert [layer.output_shape for layer in plan.layers] == [
        (62, 62, 16),
        (31, 31, 16),
        (30, 30, 32),
        (15, 15, 32),
        (7200,),
        (64,),
        (10,),
    ]
    conv1, pool1, conv2, pool2 = plan.layers[:4]
    assert conv1.effective_kernel == 3
    assert [conv1.receptive_field, pool1.receptive_field, conv2.receptive_field, pool2.receptive_field] == [3, 4, 6, 8]
    assert conv1.params == 2 * 2 * 3 * 16 + 16
    assert conv1.macs == 62 * 62 * 16 * 2 * 2 * 3
    assert plan.linear_size == 7200
    assert plan.params == 208 + 2080 + (7200 * 64 + 64) + (64 * 10 + 10)
    assert plan.flops == 2 * plan.macs


def test_plan_same_padding_keeps_size():
    plan = plan_network(20, 1, channels=(4,), kernel_sizes=(5,), dilations=(3,), strides=(1,), padding="same")
    assert plan.layers[0].output_shape == (20, 20, 4)


def test_vanishing_feature_map_message_names_layer_numbers_and_fix():
    with pytest.raises(ConfigError) as caught:
        plan_network(9, 1, channels=(8, 8), kernel_sizes=(3, 4), dilations=(1, 3), strides=(1, 1), pool_size=1)
    assert str(caught.value) == (
        "Conv layer 2 would produce an empty feature map: input 7×7, `kernel_size`=4, `dilation`=3 "
        "(a 10×10 span) gives a 0×0 output. Use a smaller kernel or dilation, fewer layers or a smaller "
        "`pool_size`, or a larger `input_size` (at least 12)."
    )


def test_vanishing_pooling_message():
    with pytest.raises(ConfigError, match=r"^Pooling after conv layer 2 would produce an empty feature map: input 1×1"):
        plan_network(6, 1, channels=(4, 4), kernel_sizes=(3, 2), dilations=(1, 1), strides=(1, 1), pool_size=2)


def test_min_input_size_is_the_smallest_valid_size():
    rng = random.Random(7)
    for _ in range(100):
        layers = rng.randint(1, 3)
        kernels = tuple(rng.randint(1, 5) for _ in range(layers))
        dilations = tuple(rng.randint(1, 3) for _ in range(layers))
        strides = tuple(1 if d > 1 else rng.randint(1, 2) for d in dilations)
        pool = rng.randint(1, 3)
        args = ((4,) * layers, kernels, dilations, strides, "valid", pool)
        smallest = min_input_size(*args)
        assert smallest is not None
        plan_network(smallest, 1, *args[:4], padding="valid", pool_size=pool)
        if smallest > 1:
            with pytest.raises(ConfigError):
                plan_network(smallest - 1, 1, *args[:4], padding="valid", pool_size=pool)
