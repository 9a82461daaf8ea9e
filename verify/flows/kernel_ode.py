"""Numeric kernel ODE (T2), generated from the derived expression.

    dK/dt = K·D(K) + D(K)·K − 2μK,    D(K) = λ(K + λI)⁻¹ YᵀY (K + λI)⁻¹

The callable is produced by :func:`verify.flows.codegen.generate` from ``theory.derive_kernel_ode``
for the squared loss with C = Y.shape[0] outputs, once per (C, backend) per process.

>>> import numpy as np
>>> K, Y = np.eye(2), np.array([[1.0, 0.0]])
>>> kernel_ode_rhs(K, Y, lam=1.0, mu=0.1)
array([[ 0.3,  0. ],
       [ 0. , -0.2]])
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

import theory
from theory import notation as nt
from verify.core import validation as v
from verify.core.linalg import binary_scale
from verify.flows.codegen import generate


@lru_cache(maxsize=None)
def compiled_rhs(C: int, backend: str = "numpy"):
    """The generated dK/dt(K, Y, λ, μ) for the squared loss with C outputs (no validation)."""
    ode = theory.derive_kernel_ode(theory.losses.squared(C))
    return generate(ode.rhs, ode.arguments, backend)


@lru_cache(maxsize=None)
def compiled_drive(C: int, backend: str = "numpy"):
    """The generated drive operator D(K, Y, λ) = G*ᵀG*/λ."""
    ode = theory.derive_kernel_ode(theory.losses.squared(C))
    return generate(ode.drive, (nt.K, nt.Y, nt.lam), backend)


@lru_cache(maxsize=None)
def compiled_jvp(C: int, backend: str = "numpy"):
    """The generated Jacobian-vector product J[E](K, E, Y, λ, μ) = −2μE + λ(XẐᵀ + ẐXᵀ) of
    ``theory.derive_kernel_jacobian`` (X = RE Z, Ẑ = (λI − K)Z, Z = (K + λI)⁻¹Yᵀ; E symmetric)."""
    from theory.t2_kernel_jacobian import E

    jac = theory.derive_kernel_jacobian(C)
    return generate(jac.jacobian, (nt.K, E, nt.Y, nt.lam, nt.mu), backend)


def kernel_ode_jvp(K, E, Y, lam, mu) -> np.ndarray:
    """J[E]: the derivative of the kernel ODE's right-hand side at K along the symmetric direction E,

        J[E] = −2μE + λ(XẐᵀ + ẐXᵀ),   X = (K + λI)⁻¹E Z,  Ẑ = (λI − K)Z,  Z = (K + λI)⁻¹Yᵀ,

    generated from the certified factored form (``theory.derive_kernel_jacobian``): O(n²C) after the
    solves, against N = n(n+1)/2 right-hand sides for a complex-step Jacobian.
    """
    K, Y, lam, mu = validate_problem(K, Y, lam, mu)
    E = v.kernel("E", E)
    if E.shape != K.shape:
        raise ValueError(f"E must have the shape of K {K.shape}, got {E.shape}")
    c = label_scale(Y)
    return scaled_finite("J[E]", compiled_jvp(Y.shape[0])(K, E, Y / c, lam, mu / c / c), "Y", c * c)


def validate_problem(K, Y, lam, mu, *, psd: bool = False, mu_positive: bool = False, name: str = "K"):
    """Validate (K, Y, λ, μ) together: K symmetric n × n, Y C × n (C ≤ n), λ > 0, μ ≥ 0 (> 0 if asked).

    ``name`` is how the kernel argument is called in messages (``K0`` for the integrators)."""
    K = v.kernel(name, K, psd=psd)
    Y = v.labels("Y", Y, n=K.shape[0])
    lam = v.positive("lam", lam)
    mu = v.positive("mu", mu) if mu_positive else v.nonnegative("mu", mu)
    return K, Y, lam, mu


def label_scale(Y) -> float:
    """A power of two 2^e near max|Y| (1 for Y = 0): dividing by it is exact, and Y/2^e has entries of order 1.

    The kernel ODE is homogeneous in the labels: F(K, cY, λ, c²μ) = c²F(K, Y, λ, μ), D(K, cY, λ) = c²D(K, Y, λ).
    Evaluating at Y/2^e and μ/4^e and scaling back by 4^e (exact) keeps YᵀY from overflowing.
    Small labels are left as they are (scale 1): their products underflow only where they are negligible
    against the decay term.
    """
    return binary_scale(Y) if float(np.abs(Y).max()) > 1 else 1.0


def scaled_finite(what: str, value: np.ndarray, culprit: str, scale: float = 1.0) -> np.ndarray:
    """``value`` × ``scale``, or OverflowError naming ``culprit`` when the product is not a finite float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        value = value * scale
    if not np.all(np.isfinite(value)):
        raise OverflowError(f"{culprit}: {what} overflows float64 (its true entries exceed 1.8e308); rescale the "
                            f"problem (the flow is invariant under (K, Y, λ, μ, t) → (cK, cY, cλ, cμ, t/c))")
    return value


def kernel_ode_rhs(K, Y, lam, mu, *, backend: str = "numpy") -> np.ndarray:
    """dK/dt = K·D(K) + D(K)·K − 2μK with D(K) = λ(K + λI)⁻¹YᵀY(K + λI)⁻¹ (T2, squared loss).

    K: symmetric n × n kernel; Y: C × n targets; λ > 0 (readout ridge); μ ≥ 0 (feature decay).
    ``backend``: "numpy", "numba", "cupy" (evaluated on the GPU, NumPy arrays in and out) or "auto".
    """
    K, Y, lam, mu = validate_problem(K, Y, lam, mu)
    rhs = compiled_rhs(Y.shape[0], backend)
    c = label_scale(Y)
    Y, mu = Y / c, mu / c / c
    if backend == "cupy":
        import cupy  # optional extra; compiled_rhs has already said so if it is missing

        value = cupy.asnumpy(rhs(cupy.asarray(K), cupy.asarray(Y), lam, mu))
    else:
        value = rhs(K, Y, lam, mu)
    return scaled_finite("dK/dt", value, "Y", c * c)


def drive_operator(K, Y, lam) -> np.ndarray:
    """D(K) = λ(K + λI)⁻¹YᵀY(K + λI)⁻¹ = G*ᵀG*/λ, PSD with rank ≤ C."""
    K, Y, lam, _ = validate_problem(K, Y, lam, 0.0)
    c = label_scale(Y)
    return scaled_finite("D(K)", compiled_drive(Y.shape[0])(K, Y / c, lam), "Y", c * c)


#: complex step: Im F(K + ihE)/h is the directional derivative to rounding, with no cancellation
_COMPLEX_STEP = 1e-30


def kernel_ode_jacobian(K, Y, lam, mu) -> np.ndarray:
    """Jacobian of the kernel ODE in symmetric coordinates x = (K_ij)_{i ≤ j}, N = n(n+1)/2.

        J[:, l] = triu(∂F/∂K [E_l]),   ∂F/∂K [E] = Im F(K + i h E) / h,  h = 1e-30,

    with F the generated right-hand side (a rational function of K, hence complex-analytic) and
    E_l the l-th symmetric basis matrix. Eigenvalues of J are those of the linearised flow on
    symmetric matrices (the basis change is a similarity). Cost: N evaluations of F.
    """
    K, Y, lam, mu = validate_problem(K, Y, lam, mu)
    c = label_scale(Y)
    J = jacobian_unchecked(compiled_rhs(Y.shape[0]), K, Y / c, lam, mu / c / c)
    return scaled_finite("the Jacobian", J, "Y", c * c)


def factored_jacobian(K: np.ndarray, Y: np.ndarray, lam: float, mu: float) -> np.ndarray:
    """The kernel ODE's Jacobian on symmetric coordinates x = (K_ij)_{i ≤ j}, in one vectorised pass (no validation).

    Column l is triu(J[E_l]) for E_l = e_ie_jᵀ + e_je_iᵀ (i < j) or e_ie_iᵀ, from the certified factored form
    J[E] = −2μE + λ(XẐᵀ + ẐXᵀ), X = RE Z, Ẑ = (λI − K)Z, Z = RYᵀ, R = (K + λI)⁻¹ (``theory.derive_kernel_jacobian``),
    whose rows are X_l = R[:, i]Z[j] + R[:, j]Z[i] (once when i = j): O(N n² C) for N = n(n + 1)/2, one Cholesky
    factorisation of K + λI, against N right-hand sides of O(n³) each for the complex step (``jacobian_unchecked``,
    which the tests hold it to).
    """
    from scipy.linalg import cho_factor, cho_solve

    n = K.shape[0]
    chol = cho_factor(K + lam * np.eye(n), lower=True, check_finite=False)
    R = cho_solve(chol, np.eye(n), check_finite=False)
    Z = R @ Y.T
    Z_hat = lam * Z - K @ Z
    i, j = np.triu_indices(n)
    X = R.T[i][:, :, None] * Z[j][:, None, :]
    X += np.where((i != j)[:, None, None], R.T[j][:, :, None] * Z[i][:, None, :], 0.0)
    XZ = lam * np.einsum("lac,bc->lab", X, Z_hat)
    blocks = XZ + XZ.transpose(0, 2, 1)
    rows = np.arange(i.size)
    blocks[rows, i, j] -= 2 * mu
    blocks[rows, j, i] -= np.where(i != j, 2 * mu, 0.0)
    return blocks[:, i, j].T


def jacobian_unchecked(rhs, K: np.ndarray, *args) -> np.ndarray:
    """Complex-step Jacobian in symmetric coordinates of any analytic matrix ``rhs(K, *args)`` (no validation)."""
    n = K.shape[0]
    rows, cols = np.triu_indices(n)
    N = rows.size
    J = np.empty((N, N))
    Kc = K.astype(np.complex128)
    for l in range(N):
        i, j = rows[l], cols[l]
        Kc[i, j] += 1j * _COMPLEX_STEP
        if i != j:
            Kc[j, i] += 1j * _COMPLEX_STEP
        J[:, l] = rhs(Kc, *args).imag[rows, cols] / _COMPLEX_STEP
        Kc[i, j] = K[i, j]
        Kc[j, i] = K[j, i]
    return J


def rightmost_jacobian_mode(rhs, K: np.ndarray, *args):
    """(max Re eigenvalue, its eigenvector in symmetric coordinates) of the Jacobian of ``rhs(K, *args)``.

    Dense for n(n+1)/2 ≤ 1000, else ARPACK (``scipy.sparse.linalg.eigs``, which="LR") on complex-step
    Jacobian-vector products. Returns (+inf, None) when ARPACK does not converge (the caller must
    treat the point as unconfirmed).
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

    n = K.shape[0]
    rows, cols = np.triu_indices(n)
    N = rows.size
    if N <= 1000:
        values, vectors = np.linalg.eig(jacobian_unchecked(rhs, K, *args))
        k = int(np.argmax(values.real))
        return float(values[k].real), np.real_if_close(vectors[:, k]).real

    def matvec(x):
        E = np.zeros((n, n))
        E[rows, cols] = np.ravel(x).real
        E = E + np.triu(E, 1).T
        return rhs(K + 1j * _COMPLEX_STEP * E, *args).imag[rows, cols] / _COMPLEX_STEP

    try:
        values, vectors = eigs(LinearOperator((N, N), matvec=matvec, dtype=float), k=1, which="LR", tol=1e-8,
                               maxiter=50 * N)
    except ArpackNoConvergence:
        return float("inf"), None
    return float(values[0].real), vectors[:, 0].real
