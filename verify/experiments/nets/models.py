"""PyTorch networks whose last hidden layer Φ(x) feeds a linear readout: the setting of the theory, on real bodies.

Every model is a :class:`FeatureNet`: a body x ↦ φ(x) ∈ ℝ^m and a readout W (C × m, no bias), f(x) = Wφ(x),
trained on the objective of :mod:`verify.experiments.networks` (sums over samples, decay on every layer)

    L(θ) = Σ_i ℓ(f_i, y_i) + (λ/2)‖W‖² + (μ/2) Σ_{body} ‖θ‖²,

and its kernel is K = ΦᵀΦ with Φ = [φ(x_1) … φ(x_n)] (m × n). Inputs arrive as rows (n × d, d = the flattened
sample) and each body reshapes them to its own sample shape. Built here (float64 unless asked otherwise, the
initialisation seeded without touching PyTorch's global generator):

- :func:`mlp`: ``depth`` − 1 hidden layers of ``width`` units (ReLU, GELU or linear) — depth 2 is the two-layer
  network of :class:`verify.experiments.networks.TwoLayer` (:func:`from_two_layer` copies one);
- :func:`cnn1d`: convolutions over a 1-D sequence (MNIST-1D's 40 positions), global average pooling, one dense
  hidden layer;
- :func:`cnn2d`: convolutions over a side × side image (the 8 × 8 digits), flattening, one dense hidden layer;
- :func:`transformer`: a pre-norm transformer encoder over tokens (patches of 4 sequence positions, or image rows),
  learned positions, mean-pooled into φ.

:data:`ARCHITECTURES` names them for the studies; :func:`build` makes one for a data set's sample shape.
"""
from __future__ import annotations

import numpy as np

from verify.core import validation as v
from verify.experiments.nets.backend import require_torch

torch = require_torch()
nn = torch.nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "linear": nn.Identity}


class FeatureNet(nn.Module):
    """A body x ↦ φ(x) ∈ ℝ^m and a linear readout W (C × m, no bias): f(x) = Wφ(x).

    ``sample_shape`` is the shape one sample has inside the body ((d,), (1, L), (1, s, s) or (tokens, token_dim));
    inputs are rows n × d and are reshaped to ``(n, *sample_shape)``."""

    def __init__(self, body: nn.Module, width: int, C: int, sample_shape, name: str):
        super().__init__()
        self.body = body
        self.readout = nn.Linear(width, C, bias=False)
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.width, self.C, self.name = int(width), int(C), name

    def features(self, x):
        """φ(x) for rows x (n × d): n × m (the transpose of the theory's Φ)."""
        return self.body(x.reshape(x.shape[0], *self.sample_shape))

    def forward(self, x):
        """f(x) = Wφ(x) for rows x: n × C."""
        return self.readout(self.features(x))

    def body_parameters(self) -> list:
        return list(self.body.parameters())

    def decay_penalty(self, lam: float, mu: float):
        """(λ/2)‖W‖² + (μ/2)Σ_body ‖θ‖², a scalar tensor."""
        body = sum((p * p).sum() for p in self.body_parameters())
        return lam / 2 * (self.readout.weight ** 2).sum() + mu / 2 * body

    def kernel(self, x) -> np.ndarray:
        """K = ΦᵀΦ (n × n, NumPy float64) of the rows x, without gradients."""
        with torch.no_grad():
            Phi = self.features(x)
            return (Phi @ Phi.T).double().cpu().numpy()


def _seeded(seed: int, build):
    """build() with PyTorch's generator seeded, the global generator's state restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _finish(net: FeatureNet, dtype, device) -> FeatureNet:
    return net.to(dtype=dtype or torch.float64, device=device or "cpu")


def mlp(d: int, C: int, *, depth: int = 2, width: int = 64, activation: str = "relu", bias: bool = True,
        seed: int = 0, dtype=None, device=None) -> FeatureNet:
    """``depth`` weight layers: ``depth`` − 1 hidden layers of ``width`` units with ``activation`` (and biases
    unless ``bias`` is False), then W. φ is the last hidden layer's output. depth in 2..8 (depth 2: one hidden
    layer; with ``activation="linear"`` and no bias, φ = Ax: the fixed-feature model of T9 when the inputs have
    orthonormal rows)."""
    d, C, width = v.count("d", d, 1), v.count("C", C, 1), v.count("width", width, 1)
    depth = v.count("depth", depth, 2, 8)
    _activation(activation)

    def build():
        layers, inputs = [], d
        for _ in range(depth - 1):
            layers += [nn.Linear(inputs, width, bias=bool(bias)), _activation(activation)]
            inputs = width
        return FeatureNet(nn.Sequential(*layers), width, C, (d,), f"MLP depth {depth} ({activation})")

    return _finish(_seeded(seed, build), dtype, device)


def cnn1d(length: int, C: int, *, channels=(16, 32), kernel: int = 5, width: int = 64, activation: str = "relu",
          seed: int = 0, dtype=None, device=None) -> FeatureNet:
    """Convolutions over a sequence of ``length`` positions (one input channel): each layer ``kernel`` wide, the
    first with stride 1, the others stride 2, then global average pooling and a dense hidden layer of ``width``."""
    length, C, width = v.count("length", length, 2), v.count("C", C, 1), v.count("width", width, 1)
    kernel = v.count("kernel", kernel, 1)
    channels = tuple(v.count("channels", c, 1) for c in channels)
    _activation(activation)

    def build():
        layers, inputs = [], 1
        for k, c in enumerate(channels):
            layers += [nn.Conv1d(inputs, c, kernel, stride=1 if k == 0 else 2, padding=kernel // 2),
                       _activation(activation)]
            inputs = c
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(inputs, width), _activation(activation)]
        return FeatureNet(nn.Sequential(*layers), width, C, (1, length), f"1-D CNN {len(channels)} conv ({activation})")

    return _finish(_seeded(seed, build), dtype, device)


def cnn2d(side: int, C: int, *, channels=(16, 32), kernel: int = 3, width: int = 64, activation: str = "relu",
          seed: int = 0, dtype=None, device=None) -> FeatureNet:
    """Convolutions over a ``side`` × ``side`` image (one channel), the first with stride 1, the others stride 2,
    then flattening and a dense hidden layer of ``width``."""
    side, C, width = v.count("side", side, 2), v.count("C", C, 1), v.count("width", width, 1)
    kernel = v.count("kernel", kernel, 1)
    channels = tuple(v.count("channels", c, 1) for c in channels)
    _activation(activation)

    def build():
        layers, inputs, size = [], 1, side
        for k, c in enumerate(channels):
            stride = 1 if k == 0 else 2
            layers += [nn.Conv2d(inputs, c, kernel, stride=stride, padding=kernel // 2), _activation(activation)]
            size = (size + 2 * (kernel // 2) - kernel) // stride + 1
            inputs = c
        layers += [nn.Flatten(), nn.Linear(inputs * size * size, width), _activation(activation)]
        return FeatureNet(nn.Sequential(*layers), width, C, (1, side, side), f"2-D CNN {len(channels)} conv ({activation})")

    return _finish(_seeded(seed, build), dtype, device)


class _TransformerBody(nn.Module):
    """Token embedding + learned positions → pre-norm encoder layers → final LayerNorm → mean over tokens."""

    def __init__(self, tokens: int, token_dim: int, width: int, heads: int, layers: int, feedforward: int):
        super().__init__()
        self.embed = nn.Linear(token_dim, width)
        self.positions = nn.Parameter(0.02 * torch.randn(tokens, width))
        layer = nn.TransformerEncoderLayer(width, heads, feedforward, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return self.norm(self.encoder(self.embed(x) + self.positions)).mean(dim=1)


def transformer(tokens: int, token_dim: int, C: int, *, width: int = 32, heads: int = 4, layers: int = 2,
                feedforward: int = 64, seed: int = 0, dtype=None, device=None) -> FeatureNet:
    """A transformer encoder over ``tokens`` tokens of ``token_dim`` numbers each (a sample of d = tokens·token_dim
    values, row-major: sequence positions, or the rows of an image): φ = mean over tokens of the encoder's output
    (m = ``width``). No dropout (training is deterministic)."""
    tokens, token_dim, C = v.count("tokens", tokens, 1), v.count("token_dim", token_dim, 1), v.count("C", C, 1)
    width, heads, layers = v.count("width", width, 1), v.count("heads", heads, 1), v.count("layers", layers, 1)
    feedforward = v.count("feedforward", feedforward, 1)
    if width % heads:
        raise ValueError(f"width must be a multiple of heads, got width={width}, heads={heads}")

    def build():
        body = _TransformerBody(tokens, token_dim, width, heads, layers, feedforward)
        return FeatureNet(body, width, C, (tokens, token_dim), f"transformer {layers} layers")

    return _finish(_seeded(seed, build), dtype, device)


def from_two_layer(model, *, dtype=None, device=None) -> FeatureNet:
    """The :class:`verify.experiments.networks.TwoLayer` ``model`` (A, b, W; ReLU or linear) as a depth-2
    :class:`FeatureNet` with the same weights (the cross-check of the two implementations)."""
    from verify.experiments.networks import TwoLayer

    if not isinstance(model, TwoLayer):
        raise TypeError(f"model must be a verify.experiments.networks.TwoLayer, got {type(model).__name__}")
    m, d = model.A.shape
    net = mlp(d, model.W.shape[0], depth=2, width=m, activation=model.activation, dtype=torch.float64)
    with torch.no_grad():
        net.body[0].weight.copy_(torch.from_numpy(model.A))
        net.body[0].bias.copy_(torch.from_numpy(model.b))
        net.readout.weight.copy_(torch.from_numpy(model.W))
    return _finish(net, dtype, device)


#: architecture name → ``builder(sample_shape, C, seed, **options)`` for the studies
ARCHITECTURES = {
    "mlp": lambda shape, C, **o: mlp(int(np.prod(shape)), C, **o),
    "cnn1d": lambda shape, C, **o: cnn1d(int(np.prod(shape)), C, **o),
    "cnn2d": lambda shape, C, **o: cnn2d(int(round(np.sqrt(np.prod(shape)))), C, **o),
    "transformer": lambda shape, C, **o: (transformer(shape[0], int(np.prod(shape[1:])), C, **o) if len(shape) > 1
                                          else transformer(*_patches(shape[0]), C, **o)),
}
#: positions per token when a transformer reads a 1-D sequence (attention costs tokens²: 40 positions → 10 tokens)
SEQUENCE_PATCH = 4


def _patches(length: int) -> tuple[int, int]:
    """(tokens, token_dim) for a sequence of ``length`` values: patches of SEQUENCE_PATCH consecutive positions when
    they tile it, single positions otherwise."""
    return (length // SEQUENCE_PATCH, SEQUENCE_PATCH) if length % SEQUENCE_PATCH == 0 else (length, 1)


def build(architecture: str, sample_shape, C: int, **options) -> FeatureNet:
    """A model of ``architecture`` (a key of :data:`ARCHITECTURES`) for samples of ``sample_shape`` (e.g. (8, 8)
    for the digits, (40,) for MNIST-1D) and C classes; ``options`` go to the builder."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {tuple(ARCHITECTURES)}, got {architecture!r}")
    shape = tuple(int(s) for s in sample_shape)
    if architecture == "cnn2d" and (len(shape) != 2 or shape[0] != shape[1]):
        raise ValueError(f"sample_shape: the 2-D CNN needs square images (side, side), got {shape}")
    return ARCHITECTURES[architecture](shape, C, **options)
