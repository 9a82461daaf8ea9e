"""verify.core — numeric primitives every layer uses; never imports ``theory``.

Errors, the one tolerance table, argument validation, ranks and linear algebra, verdicts and graded
findings, atomic files, and numeric losses lambdified from a loss's own SymPy expression.
"""
from verify.core.errors import (
    ConvergenceError as ConvergenceError,
)
from verify.core.files import (
    atomic_target as atomic_target,
    default_mode as default_mode,
    write_atomically as write_atomically,
)
from verify.core.findings import (
    OUTCOMES as OUTCOMES,
    Finding as Finding,
    graded as graded,
    rank_finding as rank_finding,
)
from verify.core.linalg import (
    binary_scale as binary_scale,
    certified_rank as certified_rank,
    confirmed_rank as confirmed_rank,
    exact_rank as exact_rank,
    frobenius_weights as frobenius_weights,
    from_symmetric_coordinates as from_symmetric_coordinates,
    high_precision_rank as high_precision_rank,
    numerical_rank as numerical_rank,
    rank_margin as rank_margin,
    relative_error as relative_error,
    singular_values as singular_values,
    to_symmetric_coordinates as to_symmetric_coordinates,
)
from verify.core.loss_numeric import (
    MODULES as MODULES,
    numeric_hessian as numeric_hessian,
    numeric_loss as numeric_loss,
)
from verify.core.tolerances import (
    TOL as TOL,
    Tolerances as Tolerances,
)
from verify.core.validation import (
    count as count,
    finite_values as finite_values,
    kernel as kernel,
    labels as labels,
    matrix as matrix,
    nonnegative as nonnegative,
    positive as positive,
    times as times,
)
from verify.core.verdict import (
    CheckError as CheckError,
    Verdict as Verdict,
    judge as judge,
)
