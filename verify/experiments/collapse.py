"""Neural-collapse metrics (Papyan, Han and Donoho, PNAS 2020) of last-layer features, for T10.

Features H (m × n, column i = h_i), integer labels y_i ∈ 0..C−1, readout W (C × m). With class means
μ_c, global mean μ_G = (1/n)Σ_i h_i (= (1/C)Σ_c μ_c for balanced classes), centred means M = [μ_c − μ_G]_c (m × C) and within-class
residuals R = [h_i − μ_{y_i}]_i (m × n):

    Σ_W = RRᵀ/n,   Σ_B = MMᵀ/C,   NC1 = tr(Σ_W Σ_B⁺)/C = ‖M⁺R‖_F² / n

(the last form uses (MMᵀ)⁺ = M⁺ᵀM⁺ and never forms an m × m matrix). NC2: the cosines between
centred class means approach −1/(C−1) (simplex equiangular frame) and their norms become equal;
NC3: W/‖W‖_F approaches Mᵀ/‖M‖_F (self-duality); NC4: the network's decision argmax_c (Wh)_c agrees
with the nearest class mean argmin_c ‖h − μ_c‖.

>>> import numpy as np
>>> C = 3
>>> M = np.eye(C) - 1.0 / C                      # a simplex frame: centred one-hot vectors
>>> labels = np.repeat(np.arange(C), 4)
>>> m = collapse_metrics(M[:, labels], labels, C, W=M.T)
>>> round(m.nc1, 12), round(m.cosine_deviation, 12), round(m.self_duality, 12), m.ncc_agreement
(0.0, 0.0, 0.0, 1.0)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from verify.core import validation as v
from verify.core.tolerances import TOL


@dataclass(frozen=True)
class CollapseMetrics:
    """NC1; mean |cos(μ_c − μ_G, μ_c' − μ_G) + 1/(C−1)| over pairs c ≠ c'; std/mean of the centred mean
    norms; ‖W/‖W‖ − Mᵀ/‖M‖‖_F² (NaN without W); fraction of samples where the readout's decision equals
    the nearest class mean (NaN without W)."""

    nc1: float
    cosine_deviation: float
    norm_variation: float
    self_duality: float
    ncc_agreement: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check(H, labels, C):
    H = v.matrix("H", H)
    labels = np.asarray(labels)
    if labels.shape != (H.shape[1],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {H.shape[1]} integers (one per column of H), got shape {labels.shape}")
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)) or C < 2:
        raise ValueError(f"C must be an int >= 2, got {C!r}")
    if labels.min() < 0 or labels.max() >= C or np.unique(labels).size != C:
        raise ValueError(f"labels must cover every class 0..{C - 1} (each class needs a sample)")
    return H, labels


def class_means(H, labels, C) -> np.ndarray:
    """μ_c as the columns of an m × C matrix."""
    H, labels = _check(H, labels, C)
    counts = np.bincount(labels, minlength=C)
    return (H @ np.eye(C)[labels]) / counts


def collapse_metrics(H, labels, C: int, W=None) -> CollapseMetrics:
    """The metrics of the module docstring for features H (m × n), labels (n,) and optionally W (C × m)."""
    H, labels = _check(H, labels, C)
    means = class_means(H, labels, C)
    centred = means - H.mean(axis=1, keepdims=True)
    residual = H - means[:, labels]
    # M⁺ with the table's relative rank threshold (M has rank ≤ C − 1 for balanced classes)
    nc1 = float(np.sum((np.linalg.pinv(centred, rcond=TOL.rank_rtol) @ residual) ** 2) / H.shape[1])
    norms = np.linalg.norm(centred, axis=0)
    unit = centred / np.where(norms > 0, norms, 1.0)
    cos = unit.T @ unit
    off = ~np.eye(C, dtype=bool)
    cosine_deviation = float(np.mean(np.abs(cos[off] + 1.0 / (C - 1))))
    norm_variation = float(norms.std() / norms.mean()) if norms.mean() > 0 else float("nan")
    self_duality = ncc = float("nan")
    if W is not None:
        W = v.matrix("W", W, rows=C, cols=H.shape[0])
        self_duality = float(np.sum((W / np.linalg.norm(W) - centred.T / np.linalg.norm(centred)) ** 2))
        decision = np.argmax(W @ H, axis=0)
        distances = np.sum(H ** 2, axis=0)[None, :] - 2 * means.T @ H + np.sum(means ** 2, axis=0)[:, None]
        ncc = float(np.mean(decision == np.argmin(distances, axis=0)))
    return CollapseMetrics(nc1, cosine_deviation, norm_variation, self_duality, ncc)
