"""What every steady-state solver of the flows does before it returns: polish and refuse.

``newton_polish`` finishes an integration by Newton–Krylov on F(x) = 0 and accepts the root only when
the solver's own residual criterion holds there; ``check_kernels`` refuses a kernel that is not finite
or not positive semidefinite beyond ``TOL.psd`` of its own scale, so no flow returns one silently.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import NoConvergence, newton_krylov

from verify.core.errors import ConvergenceError
from verify.core.tolerances import TOL


def check_kernels(who: str, kernels, floor: float) -> None:
    """Refuse to return a kernel that is not finite or not PSD (beyond TOL.psd of its own scale)."""
    kernels = np.asarray(kernels)
    if not np.all(np.isfinite(kernels)):
        raise ConvergenceError(f"{who}: the kernel became non-finite (NaN or inf); the flow left float64's range")
    for K in kernels.reshape((-1,) + kernels.shape[-2:]):
        smallest = np.linalg.eigvalsh(K)[0]
        scale = max(np.abs(K).max() * K.shape[0], floor)
        if smallest < -TOL.psd * scale:
            raise ConvergenceError(f"{who}: the result is not positive semidefinite (smallest eigenvalue "
                                   f"{smallest:.3g} against a scale of {scale:.3g}); the integration is not accurate")


def newton_polish(f, x, tol, residual):
    """Newton–Krylov on f(x) = 0 from x; None if it does not reach residual < tol."""
    target = tol * 1e-2 * max(np.abs(x).max(), np.finfo(float).tiny)
    try:
        root = newton_krylov(lambda y: f(0.0, y), x, f_tol=target, method="lgmres", maxiter=50)
    except (NoConvergence, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None  # ArithmeticError: SciPy's forcing term divides by a residual norm that underflowed to 0
    return root if residual(root) < tol else None
