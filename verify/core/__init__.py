"""verify.core — numeric primitives every layer uses; never imports ``theory``.

Errors, the one tolerance table, argument validation, ranks and linear algebra, verdicts and graded
findings, atomic files, and numeric losses lambdified from a loss's own SymPy expression.
"""
from verify.core.errors import (
    ConvergenceError as ConvergenceError,
)
from verify.core.files import (
    default_mode as default_mode,
    atomic_target as atomic_target,
    write_atomically as write_atomically,
)
from verify.core.findings import (
    OUTCOMES as OUTCOMES,
    Finding as Finding,
    graded as graded,
    rank_finding as rank_finding,
)
from verify.core.linalg import (
    relative_error as relative_error,
    singular_values as singular_values,
    binary_scale as binary_scale,
    numerical_rank as numerical_rank,
    rank_margin as rank_margin,
    exact_rank as exact_rank,
    high_precision_rank as high_precision_rank,
    certified_rank as certified_rank,
    confirmed_rank as confirmed_rank,
    to_symmetric_coordinates as to_symmetric_coordinates,
    from_symmetric_coordinates as from_symmetric_coordinates,
    frobenius_weights as frobenius_weights,
)
from verify.core.loss_numeric import (
    MODULES as MODULES,
    numeric_hessian as numeric_hessian,
    numeric_loss as numeric_loss,
)
from verify.core.tolerances import (
    Tolerances as Tolerances,
    TOL as TOL,
)
from verify.core.validation import (
    positive as positive,
    nonnegative as nonnegative,
    matrix as matrix,
    kernel as kernel,
    labels as labels,
    times as times,
    finite_values as finite_values,
    count as count,
)
from verify.core.verdict import (
    CheckError as CheckError,
    Verdict as Verdict,
    judge as judge,
)
