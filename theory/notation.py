"""The symbols of the setting (docs/theory.md#setting), defined once.

Every derivation in :mod:`theory` builds its expressions from these objects, so that a
step of T1 and a step of T3 speak about the same λ, μ, K and S.

>>> from theory.notation import K, S, lam, mu
>>> (K * S).shape
(n, n)
"""
from __future__ import annotations

import sympy as sp

# sizes: samples, outputs (classes), width
n, C, m = sp.symbols("n C m", integer=True, positive=True)

# regularisation: λ on the readout, μ on the features
lam, mu = sp.symbols("lambda mu", positive=True)

# matrices (shapes as in docs/theory.md#setting)
K = sp.MatrixSymbol("K", n, n)  # feature kernel ΦᵀΦ
S = sp.MatrixSymbol("S", n, n)  # label Gram YᵀY
Phi = sp.MatrixSymbol("Phi", m, n)  # features
W = sp.MatrixSymbol("W", C, m)  # linear readout
Y = sp.MatrixSymbol("Y", C, n)  # targets
I_n = sp.Identity(n)
I_m = sp.Identity(m)

# one mode of a commuting pair (K, S): κ an eigenvalue of K, s the matching eigenvalue of S
kappa = sp.Symbol("kappa", nonnegative=True)
s = sp.Symbol("s", positive=True)
t = sp.Symbol("t", nonnegative=True)
kappa0 = sp.Symbol("kappa_0", positive=True)

#: substitutions that make a matrix expression about the symmetric matrices K and S
SYMMETRIC = {sp.Transpose(K): K, sp.Transpose(S): S}

G = sp.MatrixSymbol("G", C, n)  # output gradient ∂ℓ/∂F, column i = ∇_f ℓ(f_i, y_i)

# fixed-feature model Φ = UΨ: p fixed input features, U trainable (m × p), input kernel K_Ψ = ΨᵀΨ
p = sp.Symbol("p", integer=True, positive=True)
U = sp.MatrixSymbol("U", m, p)
Psi = sp.MatrixSymbol("Psi", p, n)
K_Psi = sp.MatrixSymbol("K_Psi", n, n)
F = sp.MatrixSymbol("F", C, n)  # outputs WΦ
