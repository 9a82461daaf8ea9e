"""T8 — self-supervised contrast: Laplacian filter law, high rank, HaoChen anchor, supervised contrast."""
from __future__ import annotations

import importlib.util

import numpy as np
from scipy.linalg import subspace_angles

import theory
from verify import instances
from verify.claims import Claim, Context, register
from verify.claims.common import combine
from verify.data import augmentation_graph, load_digits
from verify.flows import steady_state
from verify.linalg import numerical_rank, relative_error
from verify.ssl import normalised_adjacency, spectral_contrastive_embedding, ssl_filter_spectrum, ssl_steady_state
from verify.tolerances import TOL
from verify.verdict import judge


def graphs(ctx: Context, salt: int = 31):
    """(family, adjacency) for the stochastic block model, random geometric graphs and a kNN graph of a mixture."""
    rng = ctx.rng(salt)
    for _ in range(ctx.pick(1, 3)):
        n = int(rng.integers(12, ctx.pick(20, 40)))
        yield "stochastic block model", instances.stochastic_block_model(rng, n, 3, 0.6, 0.08)[0]
        yield "random geometric graph", instances.random_geometric_graph(rng, n, 0.45)[0]
        X, _ = instances.gaussian_mixture(rng, n, 3, 5)
        yield "kNN graph of a Gaussian mixture", instances.knn_graph(X, 4)
    if digits_available():
        _, _, images = load_digits(n=ctx.pick(30, 40), seed=ctx.seed)
        yield "digits augmentation graph (pixel shifts + kNN)", augmentation_graph(images, 5)


def digits_available() -> bool:
    """The digits need scikit-learn (optional extra ``data``); without it those checks are skipped and said so."""
    return importlib.util.find_spec("sklearn") is not None


def check(ctx: Context):
    rng = ctx.rng(30)
    law_err, kernel_err, angles, ranks, wrong_law, measured = [], [], [], [], [], []
    for family, A in graphs(ctx):
        L = instances.laplacian(A)
        if np.any(A.sum(axis=1) == 0):
            continue
        mu, beta, eps = instances.log_uniform(rng, 0.05, 0.5), instances.log_uniform(rng, 0.5, 2.0), 0.01
        K = ssl_steady_state(L, mu, beta, eps)
        law = ssl_filter_spectrum(L, mu, beta, eps)
        ells, V = np.linalg.eigh(L)
        law_err.append(relative_error(np.sort(np.linalg.eigvalsh(K)), np.sort(law)))
        kernel_err.append(relative_error(K, (V * law) @ V.T))
        wrong = np.maximum(beta / (np.clip(ells, 0, None) + 2 * mu) - eps, 0)
        wrong_law.append(relative_error(np.sort(np.linalg.eigvalsh(K)), np.sort(wrong)))
        U = spectral_contrastive_embedding(A, 3)
        top = np.linalg.eigh(normalised_adjacency(A))[1][:, -3:]
        angles.append(float(np.max(subspace_angles(U, top))))
        ranks.append(max(0, 4 - numerical_rank(K)))  # "far above C = 3": at least C + 1
        measured.append({"graph": family, "n": A.shape[0], "law error": law_err[-1], "rank K∞": numerical_rank(K),
                         "max angle (rad)": angles[-1]})
    contrast, figure = _contrast(ctx)
    filter_figure = _filter_figure(ctx)
    contrast += _digits_contrast(ctx) if digits_available() else [
        {"model": "digits: skipped (scikit-learn not installed; pip install 'kernel-flows[data]')", "rank": "",
         "C": 10}]
    parts = {"spectrum of K∞ vs (β/(ℓ+μ) − ε)₊": judge("T8", law_err, TOL.law, ctx.seed),
             "K∞ vs V diag(κ∞(ℓ)) Vᵀ (Laplacian eigenvectors)": judge("T8", kernel_err, TOL.law, ctx.seed),
             "spectral contrastive embedding vs top-k eigenvectors of D^-1/2 A D^-1/2 (max angle)": judge(
                 "T8", angles, TOL.principal_angle, ctx.seed),
             "SSL rank above C": judge("T8", ranks, 0.0, ctx.seed, what="rank deficit")}
    controls = {"a wrong filter (μ counted twice)": judge("T8", wrong_law, TOL.law, ctx.seed),
                "no log-det term (β = 0) keeps the rank": _collapse(ctx)}
    return combine("T8", ctx.seed, parts, derivation=theory.ssl_filter(), controls=controls,
                   details={"graphs": measured, "supervised vs self-supervised on one mixture": contrast,
                            "figures": [figure, filter_figure]})


def _filter_figure(ctx: Context) -> dict:
    """Eigenvalues of K∞ (paired with the Laplacian eigenvalue of the same eigenvector) against the filter."""
    rng = ctx.rng(34)
    L = instances.laplacian(instances.random_geometric_graph(rng, 30, 0.35)[0])
    mu, beta, eps = 0.1, 1.0, 0.05
    K = ssl_steady_state(L, mu, beta, eps)
    ells, V = np.linalg.eigh(L)
    measured = np.einsum("ji,jk,ki->i", V, K, V)  # vᵀK∞v for each Laplacian eigenvector v
    return {"name": "ssl-filter", "title": "T8: SSL steady state against the filter (β/(ℓ+μ) − ε)₊",
            "xlabel": "Laplacian eigenvalue ℓ", "ylabel": "κ", "x": list(np.clip(ells, 0, None)),
            "series": {"vᵀK∞v (flow)": list(measured),
                       "(β/(ℓ+μ) − ε)₊": list(ssl_filter_spectrum(L, mu, beta, eps))},
            "styles": {"(β/(ℓ+μ) − ε)₊": "k--"}}


def _collapse(ctx: Context):
    rng = ctx.rng(32)
    L = instances.laplacian(instances.stochastic_block_model(rng, 12, 3, 0.7, 0.1)[0])
    K = ssl_steady_state(L, 0.2, 0.0, 0.01)
    return judge("T8", [max(0, 4 - numerical_rank(K, rtol=TOL.rank_rtol) if np.linalg.norm(K) > 1e-12 else 4)], 0.0,
                 ctx.seed, what="rank deficit")


def _contrast(ctx: Context):
    """The same Gaussian mixture (C = 3): supervised steady state (water-filling, one-hot labels) against the
    SSL steady state on its kNN graph."""
    rng = ctx.rng(33)
    C, n = 3, 36
    X, Y = instances.gaussian_mixture(rng, n, C, 5)
    K0 = X.T @ X / X.shape[0] + 1e-3 * np.eye(n)
    K_sup = steady_state(K0, Y, 0.1, 0.1)
    K_ssl = ssl_steady_state(instances.laplacian(instances.knn_graph(X, 4)), 0.1, 1.0, 0.01)
    sup, ssl = np.linalg.eigvalsh(K_sup)[::-1], np.linalg.eigvalsh(K_ssl)[::-1]
    rows = [{"model": "supervised (squared loss, λ = μ = 0.1)", "rank": numerical_rank(K_sup), "C": C},
            {"model": "self-supervised (kNN Laplacian, μ = 0.1, β = 1, ε = 0.01)", "rank": numerical_rank(K_ssl),
             "C": C}]
    floor = 1e-16 * max(sup[0], ssl[0])
    figure = {"name": "supervised-vs-ssl", "title": f"T8: kernel spectra on one Gaussian mixture (n = {n}, C = {C})",
              "xlabel": "eigenvalue index", "ylabel": "eigenvalue", "x": list(range(1, n + 1)), "logy": True,
              "series": {"supervised K∞ (rank ≤ C)": list(np.maximum(sup, floor)),
                         "self-supervised K∞": list(np.maximum(ssl, floor))}}
    return rows, figure


def _digits_contrast(ctx: Context):
    """Digits (10 classes): supervised steady state from the pixel kernel against SSL on the augmentation graph."""
    X, labels, images = load_digits(n=ctx.pick(30, 40), seed=ctx.seed)
    C = int(labels.max()) + 1
    Y = np.eye(C)[:, labels]
    present = Y.any(axis=1)
    Y = Y[present]  # classes absent from the subsample have no label direction
    K0 = X.T @ X / X.shape[0] + 1e-3 * np.eye(X.shape[1])
    K_sup = steady_state(K0, Y, 0.1, 0.1)
    K_ssl = ssl_steady_state(instances.laplacian(augmentation_graph(images, 5)), 0.1, 1.0, 0.05)
    return [{"model": "digits, supervised (squared loss, λ = μ = 0.1)", "rank": numerical_rank(K_sup),
             "C": int(present.sum())},
            {"model": "digits, self-supervised (augmentation graph, μ = 0.1, β = 1, ε = 0.05)",
             "rank": numerical_rank(K_ssl), "C": int(present.sum())}]


register(Claim(
    "T8", "Self-supervised contrast",
    "The Laplacian-driven flow converges to κ_j = (β/(ℓ_j + μ) − ε)₊ on the Laplacian eigenvectors: a low-pass "
    "graph filter of high rank, unlike the supervised rank ≤ C; the spectral contrastive loss spans the top "
    "eigenvectors of D^-1/2 A D^-1/2.",
    "graph Laplacian L, μ, β, ε > 0",
    check))
