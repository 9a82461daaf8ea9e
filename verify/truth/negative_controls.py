"""Deliberately wrong kernel ODEs: each must be rejected by :func:`verify.check_kernel_ode`.

Each is the true right-hand side with one plausible derivation slip. Tests and the T2 claim
parametrise over :data:`WRONG_KERNEL_ODES`.

    true:            K·D + D·K − 2μK,   D = λ(K + λI)⁻¹ S (K + λI)⁻¹
"""
from __future__ import annotations

import numpy as np


def _resolvent(K, lam, shift=1.0):
    return np.linalg.inv(K + shift * lam * np.eye(K.shape[0]))


def _drive(K, Y, lam, *, factor=True, shift=1.0):
    R = _resolvent(K, lam, shift)
    G = Y @ R
    return (lam if factor else 1.0) * G.T @ G


def dropped_factor(K, Y, lam, mu):
    """D without its factor λ."""
    D = _drive(K, Y, lam, factor=False)
    return K @ D + D @ K - 2 * mu * K


def one_sided_drive(K, Y, lam, mu):
    """The drive applied on one side only (2·K·D instead of K·D + D·K)."""
    D = _drive(K, Y, lam)
    return 2 * K @ D - 2 * mu * K


def wrong_decay(K, Y, lam, mu):
    """Decay −μK instead of −2μK (forgetting that both factors of ΦᵀΦ decay)."""
    D = _drive(K, Y, lam)
    return K @ D + D @ K - mu * K


def sign_flip(K, Y, lam, mu):
    """Gradient ascent on the drive: −(K·D + D·K) − 2μK."""
    D = _drive(K, Y, lam)
    return -(K @ D + D @ K) - 2 * mu * K


def shifted_inverse(K, Y, lam, mu):
    """(K + 2λI)⁻¹ in place of (K + λI)⁻¹."""
    D = _drive(K, Y, lam, shift=2.0)
    return K @ D + D @ K - 2 * mu * K


def squared_resolvent(K, Y, lam, mu):
    """D = λ(K + λI)⁻² S instead of the symmetric sandwich (not even symmetric)."""
    R = _resolvent(K, lam)
    D = lam * R @ R @ (Y.T @ Y)
    return K @ D + D @ K - 2 * mu * K


WRONG_KERNEL_ODES = {
    "dropped factor": dropped_factor,
    "one-sided drive": one_sided_drive,
    "wrong decay": wrong_decay,
    "sign flip": sign_flip,
    "shifted inverse": shifted_inverse,
    "squared resolvent": squared_resolvent,
}
