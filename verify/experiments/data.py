"""Data sets for the experiments: arrays in, arrays out, behind one loader interface.

A loader is any function ``loader(n, seed) -> (X, labels)`` with X d × n (columns = samples) and
integer labels (n,) in 0..C−1; :func:`register_loader` adds one, :func:`load` returns a
:class:`Dataset`. Built in:

- ``"digits"``: scikit-learn's digits (1797 × 64, 10 classes, shipped with scikit-learn, no download).
  scikit-learn is an optional extra (``pip install 'kernel-flows[data]'``; the ``test`` extra includes
  it); without it loading raises an ImportError naming the extra.
- ``"iris"`` (150 × 4, 3 classes), ``"wine"`` (178 × 13, 3 classes), ``"breast-cancer"`` (569 × 30,
  2 classes): scikit-learn's other bundled tabular sets (no download), same optional extra; features on
  very different scales, so use :meth:`Dataset.standardised`.
- ``"mnist1d"``: MNIST-1D (40-long sequences, 10 classes), made by the ``mnist1d`` package's procedural
  generator (no download; the ``data`` extra), designed to separate MLPs from CNNs.
- ``"gaussian-mixture"``: 10 balanced Gaussian classes in 64 dimensions (unit covariance, means at
  distance 3 along random directions), the synthetic twin of digits.

>>> data = load("gaussian-mixture", n=40, seed=0)
>>> data.X.shape, data.C, data.Y.shape
((64, 40), 10, (10, 40))
>>> train, test = data.split(30, seed=0)
>>> train.n, test.n
(30, 10)
>>> X, labels, images = load_digits(n=50, seed=0)
>>> X.shape, images.shape, sorted(set(labels.tolist()))[:3]
((64, 50), (50, 8, 8), [0, 1, 2])
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """X (d × n, columns = samples), integer labels (n,) in 0..C−1, and the number of classes C."""

    name: str
    X: np.ndarray
    labels: np.ndarray
    C: int

    @property
    def n(self) -> int:
        return self.X.shape[1]

    @property
    def Y(self) -> np.ndarray:
        """One-hot targets, C × n."""
        return np.eye(self.C)[:, self.labels]

    def subset(self, index) -> Dataset:
        return Dataset(self.name, self.X[:, index], self.labels[index], self.C)

    def split(self, n_train: int, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A random split into ``n_train`` training samples and the rest (held out)."""
        if not 1 <= n_train < self.n:
            raise ValueError(f"n_train must be in 1..{self.n - 1} (the data set has {self.n} samples), got {n_train}")
        order = np.random.default_rng(seed).permutation(self.n)
        return self.subset(np.sort(order[:n_train])), self.subset(np.sort(order[n_train:]))

    def normalised(self, reference: Dataset | None = None) -> Dataset:
        """Inputs centred and scaled to mean squared norm 1, with the statistics of ``reference``
        (default: this data set) so that held-out data get the training set's transform."""
        _check_reference(reference, self.X.shape[0])
        ref = self if reference is None else reference
        centre = ref.X.mean(axis=1, keepdims=True)
        scale = np.sqrt(np.mean(np.sum((ref.X - centre) ** 2, axis=0)))
        return Dataset(self.name, (self.X - centre) / scale, self.labels, self.C)

    def standardised(self, reference: Dataset | None = None) -> Dataset:
        """Every input feature centred and scaled to unit variance, x_k ← (x_k − mean_k)/std_k, with the
        statistics of ``reference`` (default: this data set); a constant feature is only centred. The mean
        squared norm of an input becomes d (the number of non-constant features)."""
        _check_reference(reference, self.X.shape[0])
        ref = self if reference is None else reference
        centre = ref.X.mean(axis=1, keepdims=True)
        spread = ref.X.std(axis=1, keepdims=True)
        spread[spread == 0] = 1.0
        return Dataset(self.name, (self.X - centre) / spread, self.labels, self.C)


def _check_reference(reference, d: int):
    if reference is not None and (not isinstance(reference, Dataset) or reference.X.shape[0] != d):
        raise ValueError(f"reference must be a Dataset with {d} input features (rows of X), got "
                         f"{type(reference).__name__ if not isinstance(reference, Dataset) else reference.X.shape}")


def from_arrays(X, labels, name: str = "arrays") -> Dataset:
    """A :class:`Dataset` from X (d × n) and integer labels (n,) covering 0..C−1."""
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite d × n array (columns = samples), got shape {X.shape}")
    if labels.shape != (X.shape[1],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {X.shape[1]} integers (one per column of X), got shape {labels.shape}, "
                         f"dtype {labels.dtype}")
    C = int(labels.max()) + 1 if labels.size else 0
    if labels.size == 0 or labels.min() < 0 or C < 2:
        raise ValueError("labels must be non-negative class indices with at least two classes")
    return Dataset(name, X, labels.astype(int), C)


LOADERS: dict[str, Callable] = {}


def register_loader(name: str, loader: Callable) -> None:
    """Make ``load(name, ...)`` call ``loader(n, seed) -> (X, labels)``."""
    if not callable(loader):
        raise TypeError(f"loader must be callable as loader(n, seed), got {type(loader).__name__}")
    LOADERS[name] = loader


def load(name: str, n: int | None = None, seed: int = 0) -> Dataset:
    """The data set ``name`` (see :data:`LOADERS`) with n samples (None: the loader's default)."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(LOADERS))}")
    X, labels = LOADERS[name](n, seed)
    return from_arrays(X, labels, name)


def _gaussian_mixture(n, seed, C: int = 10, d: int = 64):
    from verify.truth.instances import gaussian_mixture

    n = 1797 if n is None else n
    X, Y = gaussian_mixture(np.random.default_rng(seed), n, C, d)
    return X, np.argmax(Y, axis=0)


def load_digits(n: int | None = None, seed: int = 0):
    """(X, labels, images) for n digits drawn without replacement (all 1797 when n is None), pixels in [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:  # optional dependency
        raise ImportError("the digits data need scikit-learn: pip install 'kernel-flows[data]'") from exc
    digits = sklearn_digits()
    images, labels = digits.images / 16.0, digits.target
    if n is not None:
        if not 1 <= n <= len(labels):
            raise ValueError(f"n must be in 1..{len(labels)}, got {n}")
        pick = np.sort(np.random.default_rng(seed).choice(len(labels), size=n, replace=False))
        images, labels = images[pick], labels[pick]
    return images.reshape(len(labels), -1).T.copy(), labels.copy(), images.copy()


#: MNIST-1D's defaults (Greydanus 2020): 10 classes, sequences of 40 values
MNIST1D_LENGTH = 40


def load_mnist1d(n: int | None = None, seed: int = 0):
    """(X, labels) of MNIST-1D (Greydanus 2020), generated procedurally by the ``mnist1d`` package (no download):
    n sequences of 40 values (X 40 × n, standardised by the generator), 10 classes, balanced to within one sample
    (n rounded up to a multiple of 10 is generated and n kept, the first samples of each class in the generator's
    shuffled order; default n = 4000, the package's training split). The generator seeds NumPy's global random state; it is restored."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # optional dependency
        raise ImportError("MNIST-1D needs the mnist1d package: pip install 'kernel-flows[data]'") from exc
    n = 4000 if n is None else n
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = int(-(-n // 10) * 10), int(seed), 1.0
    state = np.random.get_state()
    try:
        generated = make_dataset(args)
    finally:
        np.random.set_state(state)
    X, labels = np.asarray(generated["x"], dtype=float), np.asarray(generated["y"], dtype=int)
    # keep the first occurrences class by class: the k-th sample of every class before any (k+1)-th
    occurrence = np.zeros(labels.size, dtype=int)
    for c in np.unique(labels):
        occurrence[labels == c] = np.arange(np.sum(labels == c))
    keep = np.sort(np.lexsort((np.arange(labels.size), occurrence))[:n])
    return X[keep].T.copy(), labels[keep]


#: scikit-learn loader function of each bundled tabular data set
TABULAR = {"iris": "load_iris", "wine": "load_wine", "breast-cancer": "load_breast_cancer"}


def load_tabular(name: str, n: int | None = None, seed: int = 0):
    """(X, labels) of scikit-learn's bundled ``name`` (a key of :data:`TABULAR`): X d × n, raw features;
    n samples drawn without replacement (all when n is None)."""
    if name not in TABULAR:
        raise ValueError(f"name must be one of {sorted(TABULAR)}, got {name!r}")
    try:
        import sklearn.datasets
    except ImportError as exc:  # optional dependency
        raise ImportError(f"the {name} data need scikit-learn: pip install 'kernel-flows[data]'") from exc
    bunch = getattr(sklearn.datasets, TABULAR[name])()
    X, labels = np.asarray(bunch.data, dtype=float), np.asarray(bunch.target)
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(labels):
            raise ValueError(f"n must be an int in 1..{len(labels)} (the size of {name}), got {n!r}")
        pick = np.sort(np.random.default_rng(seed).choice(len(labels), size=n, replace=False))
        X, labels = X[pick], labels[pick]
    return X.T.copy(), labels.copy()


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The image moved by (dx, dy) pixels, zero-filled (an augmentation)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h + min(-dy, 0),
                                                                      max(-dx, 0):w + min(-dx, 0)]
    return out


def augmentation_graph(images: np.ndarray, k: int, shifts=((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))) -> np.ndarray:
    """Symmetric 0/1 adjacency: i ~ j when j is among the k nearest images to some augmentation (pixel shift)
    of image i, distance d(i, j) = min_s ‖shift_s(x_i) − x_j‖."""
    n = images.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in 1..n-1={n - 1}, got {k}")
    flat = images.reshape(n, -1)
    dist = np.full((n, n), np.inf)
    for dx, dy in shifts:
        moved = np.stack([shifted(img, dx, dy) for img in images]).reshape(n, -1)
        d = np.linalg.norm(moved[:, None, :] - flat[None, :, :], axis=-1)
        dist = np.minimum(dist, d)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :k]
    A = np.zeros((n, n))
    A[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(A, A.T)


register_loader("digits", lambda n, seed: load_digits(n, seed)[:2])
register_loader("gaussian-mixture", _gaussian_mixture)
register_loader("mnist1d", load_mnist1d)
for _name in TABULAR:
    register_loader(_name, lambda n, seed, _name=_name: load_tabular(_name, n, seed))
