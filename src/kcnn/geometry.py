"""Shape arithmetic for kcnn's CNNs: pure Python, no keras, no torch.

(Over 300 lines on purpose: one formula family and the plan that applies it layer by layer; the
dataclasses and the walk read best side by side, and the layer below everything has no sub-modules.)

The formulas are PyTorch's (``torch.nn.Conv2d`` and ``torch.nn.MaxPool2d``
documentation)::

    out = floor((W + 2·p − d·(k − 1) − 1) / s) + 1

and Keras' ``padding="same"``, which keeps ``ceil(W / s)``. A *shape plan*
walks a network layer by layer and records, for each layer, its output size,
its receptive field in input pixels, its effective kernel, its parameter count
and its multiply-accumulates per image. The plan's `linear_size` is the
flattened size that feeds the first Dense layer (the original study's
``linear_size``, computed there with a ``conv_out()`` helper).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kcnn.errors import ConfigError

#: Largest input size searched when suggesting the smallest valid one.
_MAX_SUGGESTED_INPUT = 8192


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis, as PyTorch computes it.

    Args:
        size: Input length `W`.
        kernel: Kernel length `k`.
        stride: Stride `s`. Defaults to `1`.
        padding: Zero padding `p` added on both sides. Defaults to `0`.
        dilation: Dilation `d`. Defaults to `1`.

    Returns:
        ``floor((W + 2p − d(k−1) − 1) / s) + 1``. A value below 1 means the
        layer cannot be applied (PyTorch raises for it).
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(size: int, pool: int, stride: int | None = None, padding: int = 0, dilation: int = 1) -> int:
    """Output length of max pooling along one axis (PyTorch, ``ceil_mode=False``).

    Args:
        size: Input length.
        pool: Pooling window length.
        stride: Stride. Defaults to the window length, as in Keras and PyTorch.
        padding: Zero padding on both sides. Defaults to `0`.
        dilation: Window dilation. Defaults to `1`.

    Returns:
        The output length; below 1 means the pooling cannot be applied.
    """
    return conv_out(size, pool, pool if stride is None else stride, padding, dilation)


def same_out(size: int, stride: int = 1) -> int:
    """Output length of a Keras ``padding="same"`` convolution: ``ceil(W / s)``."""
    return -(-size // stride)


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Span in pixels of a dilated kernel: ``d·(k − 1) + 1``."""
    return dilation * (kernel - 1) + 1


@dataclass(frozen=True)
class LayerPlan:
    """One layer of a shape plan."""

    name: str
    """Layer name, the same as in the Keras model (``conv1``, ``pool1``, ``flatten``, ``dense``, ``output``)."""
    kind: str
    """One of ``conv``, ``pool``, ``flatten``, ``dense``."""
    output_shape: tuple[int, ...]
    """Output shape per image: ``(height, width, channels)`` or ``(units,)``."""
    kernel: int = 0
    """Kernel or window length (0 for flatten and dense)."""
    dilation: int = 1
    """Dilation of the kernel."""
    stride: int = 1
    """Stride of the kernel or window."""
    effective_kernel: int = 0
    """Span of the kernel in this layer's input pixels, ``d·(k − 1) + 1``."""
    receptive_field: int = 0
    """Side of the square of input-image pixels one output unit sees."""
    params: int = 0
    """Trainable parameters."""
    macs: int = 0
    """Multiply-accumulates per image."""

    @property
    def size_text(self) -> str:
        """The output shape as ``H×W×C`` or ``N``."""
        return "×".join(str(n) for n in self.output_shape)


@dataclass(frozen=True)
class ShapePlan:
    """A whole network's shapes, from input image to class scores."""

    input_shape: tuple[int, int, int]
    """``(height, width, channels)`` of one input image."""
    layers: tuple[LayerPlan, ...]
    """Every layer in order."""
    linear_size: int
    """Flattened size that feeds the first Dense layer."""

    @property
    def params(self) -> int:
        """Total trainable parameters."""
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        """Total multiply-accumulates per image (forward pass)."""
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        """Forward-pass FLOPs per image, counted as two per multiply-accumulate."""
        return 2 * self.macs

    @property
    def receptive_field(self) -> int:
        """Receptive field of the last spatial layer, in input pixels."""
        spatial = [layer for layer in self.layers if layer.kind in ("conv", "pool")]
        return spatial[-1].receptive_field if spatial else 1

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description of the plan."""
        return {
            "input_shape": list(self.input_shape),
            "linear_size": self.linear_size,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.receptive_field,
            "layers": [
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "output_shape": list(layer.output_shape),
                    "kernel": layer.kernel,
                    "dilation": layer.dilation,
                    "stride": layer.stride,
                    "effective_kernel": layer.effective_kernel,
                    "receptive_field": layer.receptive_field,
                    "params": layer.params,
                    "macs": layer.macs,
                }
                for layer in self.layers
            ],
        }


@dataclass(frozen=True)
class _Vanished:
    """Where and why a feature map became empty while tracing a network."""

    what: str
    size: int
    detail: str
    out: int


def _trace(
    input_size: int,
    in_channels: int,
    channels: Sequence[int],
    kernel_sizes: Sequence[int],
    dilations: Sequence[int],
    strides: Sequence[int],
    padding: str,
    pool_size: int,
) -> tuple[list[LayerPlan], _Vanished | None]:
    """Walk the conv/pool blocks; stop at the first layer whose output is empty."""
    layers: list[LayerPlan] = []
    size, depth = input_size, in_channels
    receptive, jump = 1, 1
    for index, (filters, kernel, dilation, stride) in enumerate(
        zip(channels, kernel_sizes, dilations, strides, strict=True), start=1
    ):
        span = effective_kernel(kernel, dilation)
        out = same_out(size, stride) if padding == "same" else conv_out(size, kernel, stride, 0, dilation)
        if out < 1:
            detail = f"`kernel_size`={kernel}, `dilation`={dilation} (a {span}×{span} span)"
            if stride > 1:
                detail += f", `stride`={stride}"
            return layers, _Vanished(f"Conv layer {index}", size, detail, out)
        receptive += (span - 1) * jump
        jump *= stride
        layers.append(
            LayerPlan(
                name=f"conv{index}",
                kind="conv",
                output_shape=(out, out, filters),
                kernel=kernel,
                dilation=dilation,
                stride=stride,
                effective_kernel=span,
                receptive_field=receptive,
                params=kernel * kernel * depth * filters + filters,
                macs=out * out * filters * kernel * kernel * depth,
            )
        )
        size, depth = out, filters
        if pool_size > 1:
            pooled = pool_out(size, pool_size)
            if pooled < 1:
                detail = f"`pool_size`={pool_size}"
                return layers, _Vanished(f"Pooling after conv layer {index}", size, detail, pooled)
            receptive += (pool_size - 1) * jump
            jump *= pool_size
            layers.append(
                LayerPlan(
                    name=f"pool{index}",
                    kind="pool",
                    output_shape=(pooled, pooled, depth),
                    kernel=pool_size,
                    stride=pool_size,
                    effective_kernel=pool_size,
                    receptive_field=receptive,
                )
            )
            size = pooled
    return layers, None


def plan_network(
    input_size: int,
    in_channels: int,
    channels: Sequence[int],
    kernel_sizes: Sequence[int],
    dilations: Sequence[int],
    strides: Sequence[int],
    padding: str = "valid",
    pool_size: int = 2,
    dense_units: int = 64,
    num_classes: int | None = None,
) -> ShapePlan:
    """Plan the shapes of a conv → activation → max-pool network.

    Each conv layer is followed by max pooling with window and stride
    `pool_size` (none when it is 1); then Flatten → Dense(`dense_units`) →
    Dense(`num_classes`).

    Args:
        input_size: Side of the square input image, in pixels.
        in_channels: Channels of the input image (1 grayscale, 3 RGB).
        channels: Output channels of each conv layer.
        kernel_sizes: Kernel side of each conv layer.
        dilations: Dilation of each conv layer.
        strides: Stride of each conv layer.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        pool_size: Max-pooling window after each conv layer. Defaults to `2`.
        dense_units: Units of the hidden Dense layer. Defaults to `64`.
        num_classes: Units of the output layer; `None` leaves it out.

    Returns:
        The shape plan.

    Raises:
        ConfigError: If a layer's output would be empty; the message names the
            layer, its numbers and the smallest `input_size` that works.
    """
    layers, vanished = _trace(input_size, in_channels, channels, kernel_sizes, dilations, strides, padding, pool_size)
    if vanished is not None:
        raise ConfigError(
            _vanished_message(
                vanished, input_size, in_channels, channels, kernel_sizes, dilations, strides, padding, pool_size
            )
        )
    height, width, depth = layers[-1].output_shape if layers else (input_size, input_size, in_channels)
    linear_size = height * width * depth
    layers.append(LayerPlan(name="flatten", kind="flatten", output_shape=(linear_size,)))
    layers.append(
        LayerPlan(
            name="dense",
            kind="dense",
            output_shape=(dense_units,),
            params=linear_size * dense_units + dense_units,
            macs=linear_size * dense_units,
        )
    )
    if num_classes is not None:
        layers.append(
            LayerPlan(
                name="output",
                kind="dense",
                output_shape=(num_classes,),
                params=dense_units * num_classes + num_classes,
                macs=dense_units * num_classes,
            )
        )
    return ShapePlan(input_shape=(input_size, input_size, in_channels), layers=tuple(layers), linear_size=linear_size)


def min_input_size(
    channels: Sequence[int],
    kernel_sizes: Sequence[int],
    dilations: Sequence[int],
    strides: Sequence[int],
    padding: str = "valid",
    pool_size: int = 2,
) -> int | None:
    """The smallest square input side for which no feature map is empty.

    Returns:
        That size, or `None` if none up to 8192 pixels works.
    """
    args = (channels, kernel_sizes, dilations, strides, padding, pool_size)
    low, high = 1, _MAX_SUGGESTED_INPUT
    if _trace(high, 1, *args)[1] is not None:
        return None
    # Output sizes never shrink when the input grows, so validity is monotone.
    while low < high:
        middle = (low + high) // 2
        if _trace(middle, 1, *args)[1] is None:
            high = middle
        else:
            low = middle + 1
    return low


def _vanished_message(
    vanished: _Vanished,
    input_size: int,
    in_channels: int,
    channels: Sequence[int],
    kernel_sizes: Sequence[int],
    dilations: Sequence[int],
    strides: Sequence[int],
    padding: str,
    pool_size: int,
) -> str:
    smallest = min_input_size(channels, kernel_sizes, dilations, strides, padding, pool_size)
    side = max(vanished.out, 0)
    fix = "Use a smaller kernel or dilation, fewer layers or a smaller `pool_size`"
    if smallest is not None:
        fix += f", or a larger `input_size` (at least {smallest})"
    return (
        f"{vanished.what} would produce an empty feature map: input {vanished.size}×{vanished.size}, "
        f"{vanished.detail} gives a {side}×{side} output. {fix}."
    )
