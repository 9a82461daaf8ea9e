"""E1 — a readout with a bias: the kernel ODE, the rank bound and the law, derived with the public builder.

The model adds an unpenalised bias b (C × 1) to the linear readout, F = WΦ + b1ᵀ, with the squared loss:

    L(W, b, Φ) = ½‖WΦ + b1ᵀ − Y‖²_F + (λ/2)‖W‖²_F + (μ/2)‖Φ‖²_F.

Eliminating b then W (each certified by the exact derivative of L) leaves, with the centring H = I − 11ᵀ/n,
K̃ = HKH and R̃ = (K̃ + λI)⁻¹:

    b* = (Y − WΦ)1/n,   W* = Y R̃ HΦᵀ,   G* = W*Φ + b*1ᵀ − Y = −λ Y H R̃,
    Φ̇ = −∇_Φ L = Φ(D_b − μI),   D_b = G*ᵀG*/λ = λ R̃ H S H R̃,   dK/dt = K D_b + D_b K − 2μK.

So the drive has rank ≤ rank(YH): ≤ C − 1 for one-hot labels (their rows sum to 1ᵀ, so YH has the constant
vector … in its left kernel), ≤ C in general; D_b·1 = 0, so the mean feature decays as e^(−μt). By the rank
lemma (T4, reused), every steady state has rank K ≤ rank D_b: **with a bias, one-hot labels give rank ≤ C − 1,
not C + 1** — the bias absorbs the label mean. At a steady state K1 = 0, so K̃ = K and D_b is T2's drive with
the centred label Gram HSH: the law is water-filling of HSH.

>>> e1 = derive_readout_bias(3)
>>> e1.certified
True
>>> e1.results["drive"]
lambda*(lambda*I + H*K*H)**(-1)*H*S*H*(lambda*I + H*K*H)**(-1)
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import rational_matrix, standard_instance
from theory.derivation_builder import BuiltDerivation, DerivationBuilder
from theory.t2_kernel_ode import K_dot, Phi_dot
from theory.t4_rank_lemma import derive_rank_lemma

#: the unpenalised readout bias (C × 1), the all-ones column and the centring matrix H = I − 11ᵀ/n
b = sp.MatrixSymbol("b", nt.C, 1)
ones = sp.MatrixSymbol("𝟏", nt.n, 1)  # a symbol (not OneMatrix) so that the displayed steps read b𝟏ᵀ, not b·1
H = sp.MatrixSymbol("H", nt.n, nt.n)
H_FORMULA = nt.I_n - ones * ones.T / nt.n
#: symbols naming the partial gradients
dL_db, dL_dW, dL_dPhi = sp.MatrixSymbol("dL/db", nt.C, 1), sp.MatrixSymbol("dL/dW", nt.C, nt.m), \
    sp.MatrixSymbol("dL/dPhi", nt.m, nt.n)


def objective(W, bias, Phi):
    """L(W, b, Φ) = ½ tr(RRᵀ) + (λ/2) tr(WWᵀ) + (μ/2) tr(ΦΦᵀ), R = WΦ + b1ᵀ − Y (the squared loss summed)."""
    residual = W * Phi + bias * ones.T - nt.Y
    return (sp.Trace(residual * residual.T) / 2 + nt.lam / 2 * sp.Trace(W * W.T)
            + nt.mu / 2 * sp.Trace(Phi * Phi.T))


def _with_H(rng, dims) -> dict:
    """The setting's instance plus the centring H and a random bias b."""
    values = standard_instance(rng, dims)
    n = values[nt.n]
    values[H] = sp.ImmutableMatrix(sp.eye(n) - sp.ones(n, n) / n)
    values[ones] = sp.ImmutableMatrix(sp.ones(n, 1))
    values[b] = rational_matrix(rng, values[nt.C], 1)
    return values


def _one_hot(rng: random.Random, dims) -> dict:
    """One-hot labels with every class present (rows of Y sum to 1ᵀ), S = YᵀY, and the centring H."""
    values = _with_H(rng, dims)
    n, C = values[nt.n], values[nt.C]
    classes = list(range(C)) + [rng.randrange(C) for _ in range(n - C)]
    rng.shuffle(classes)
    Y = sp.ImmutableMatrix(C, n, lambda i, j: 1 if classes[j] == i else 0)
    values[nt.Y], values[nt.S] = Y, sp.ImmutableMatrix(Y.T * Y)
    return values


def _centred_features(rng: random.Random, dims) -> dict:
    """Features with zero mean (Φ1 = 0), so K1 = 0 and K = HKH: the steady states' case."""
    values = _with_H(rng, dims)
    Phi = sp.ImmutableMatrix(values[nt.Phi] * values[H])
    values[nt.Phi], values[nt.K] = Phi, sp.ImmutableMatrix(Phi.T * Phi)
    return values


SIZES = ({nt.n: 3, nt.m: 3, nt.C: 2}, {nt.n: 4, nt.m: 2, nt.C: 2}, {nt.n: 3, nt.m: 4, nt.C: 3})


def build_readout_bias(C: int = 2, seed: int = 0) -> BuiltDerivation:
    """E1's derivation (module docstring) for C outputs, built step by step with :class:`DerivationBuilder`."""
    C = limits.check_outputs(C)
    sizes = tuple({**d, nt.C: C} for d in SIZES)
    build = DerivationBuilder("E1", "readout with a bias: kernel ODE, rank ≤ rank(YH), water-filling of HSH", seed=seed)
    subs = {H: H_FORMULA}
    L = objective(nt.W, b, nt.Phi)
    build.define("model", "outputs F = WΦ + b1ᵀ (bias b unpenalised), squared loss, ℓ2 decay on W and Φ",
                 sp.Symbol("L"), L)

    grad_b = nt.W * nt.Phi * ones + b * ones.T * ones - nt.Y * ones
    build.gradient("bias gradient", "∂L/∂b = (WΦ + b1ᵀ − Y)1", dL_db, grad_b, objective=L, variable=b,
                   sizes=sizes, sample=_with_H)
    b_star = (nt.Y - nt.W * nt.Phi) * ones / nt.n
    build.identity("optimal bias", "b* = (Y − WΦ)1/n makes ∂L/∂b vanish", grad_b.xreplace({b: b_star}),
                   sp.ZeroMatrix(nt.C, 1), sizes=sizes, sample=_with_H)
    build.identity("centred residual", "WΦ + b*1ᵀ − Y = (WΦ − Y)H: the bias removes the residual's mean",
                   nt.W * nt.Phi + b_star * ones.T - nt.Y, (nt.W * nt.Phi - nt.Y) * H,
                   sizes=sizes, sample=_with_H, substitute=subs)

    L_b = L.xreplace({b: b_star})
    grad_W = (nt.W * nt.Phi - nt.Y) * H * nt.Phi.T + nt.lam * nt.W
    build.gradient("readout gradient", "at b = b*(W): ∂L/∂W = (WΦ − Y)HΦᵀ + λW", dL_dW, grad_W, objective=L_b,
                   variable=nt.W, sizes=sizes, sample=_with_H, substitute=subs)
    R = (H * nt.K * H + nt.lam * nt.I_n).I
    W_star = nt.Y * R * H * nt.Phi.T
    build.identity("optimal readout", "W* = Y R̃ HΦᵀ, R̃ = (HKH + λI)⁻¹ (push-through with Φ̃ = ΦH) solves it",
                   grad_W.xreplace({nt.W: W_star}), sp.ZeroMatrix(nt.C, nt.m), sizes=sizes, sample=_with_H,
                   substitute=subs)
    G_star = -nt.lam * nt.Y * H * R
    build.identity("optimal output gradient", "G* = W*Φ + b*1ᵀ − Y = −λ Y H R̃ (and G*1 = 0)",
                   (nt.W * nt.Phi + b_star * ones.T - nt.Y).xreplace({nt.W: W_star}), G_star,
                   sizes=sizes, sample=_with_H, substitute=subs)

    # the feature flow: gradient of L at the eliminated readout (the reduced objective), K written as ΦᵀΦ so
    # that it moves with Φ in the exact derivative
    K_of_Phi = {nt.K: nt.Phi.T * nt.Phi}
    L_reduced = L_b.xreplace({nt.W: W_star}).xreplace(K_of_Phi)
    grad_Phi = W_star.T * G_star + nt.mu * nt.Phi
    build.gradient("feature gradient", "∇_Φ L(W*(Φ), b*(Φ), Φ) = W*ᵀG* + μΦ (the readout at its optimum)", dL_dPhi,
                   grad_Phi, objective=L_reduced.xreplace(subs), variable=nt.Phi, sizes=sizes, sample=_with_H,
                   substitute={**subs, **K_of_Phi})
    drive = nt.lam * R * H * nt.S * H * R
    drive_from_G = G_star.T * G_star / nt.lam
    build.identity("drive operator", "Φ̇ = −(W*ᵀG* + μΦ) = Φ(D_b − μI), D_b = G*ᵀG*/λ = λ R̃ H S H R̃",
                   -grad_Phi, nt.Phi * (drive - nt.mu * nt.I_n), sizes=sizes, sample=_with_H, substitute=subs)
    build.identity("mean mode", "D_b·1 = 0: the mean feature Φ1 decays as e^(−μt)", drive * ones,
                   sp.ZeroMatrix(nt.n, 1), sizes=sizes, sample=_with_H, substitute=subs)
    build.rank("rank of the drive", "D_b = G*ᵀG*/λ has rank ≤ C − 1 for one-hot labels with every class present", drive_from_G,
               drive, bound=lambda v: v[nt.C] - 1, sample=_one_hot, substitute=subs,
               sizes=({nt.n: C + 3, nt.m: C + 2, nt.C: C},) if C > 1 else ({nt.n: 4, nt.m: 3, nt.C: 1},))
    build.rank("rank, any labels", "D_b = G*ᵀG*/λ has rank ≤ C for real-valued labels", drive_from_G, drive,
               bound=lambda v: v[nt.C], sample=_with_H, substitute=subs,
               sizes=({nt.n: C + 3, nt.m: C + 2, nt.C: C},))

    flow = nt.Phi * (drive - nt.mu * nt.I_n)
    rhs = nt.K * drive + drive * nt.K - 2 * nt.mu * nt.K
    build.identity("kernel ODE", "K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = K D_b + D_b K − 2μK (closed in K)", K_dot,
                   rhs, sizes=sizes, sample=_with_H,
                   substitute={**subs, K_dot: flow.T * nt.Phi + nt.Phi.T * flow, Phi_dot: flow})
    build.reuse(derive_rank_lemma(), "range K ⊆ ker A", "ker(D − μI) ⊆ range D")
    centred_drive = nt.lam * (nt.K + nt.lam * nt.I_n).I * H * nt.S * H * (nt.K + nt.lam * nt.I_n).I
    build.identity("centred steady states", "K1 = 0 (so HKH = K) ⇒ D_b = λ(K + λI)⁻¹ HSH (K + λI)⁻¹: T2's drive with "
                   "the centred label Gram HSH = (YH)ᵀ(YH), hence water-filling of HSH", drive, centred_drive,
                   sizes=sizes, sample=_centred_features, substitute=subs)
    return build.build(objective=L, bias=b_star, readout=W_star, output_gradient=G_star, drive=drive, rhs=rhs,
                       centring=H_FORMULA)


@lru_cache(maxsize=None)
def derive_readout_bias(C: int = 2) -> BuiltDerivation:
    """E1 for C outputs (cached): every step certified; ``results["drive"]`` and ``results["rhs"]`` are the
    expressions in K, S (= YᵀY), H, λ, μ that code is generated from (substitute ``centring`` for H)."""
    with limits.time_limit(f"derive_readout_bias({C})"):
        return build_readout_bias(C)
