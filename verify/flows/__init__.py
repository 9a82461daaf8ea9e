"""verify.flows — code generated from the derivations, and the flows and steady states it drives.

``codegen`` turns a certified expression into NumPy (numba, CuPy) code; ``kernel_ode`` is the kernel
ODE's right-hand side, drive and Jacobian; ``kernel_flow``, ``feature_flow``, ``coupled`` and
``ssl_flow`` integrate the flows to their steady states; ``water_filling``, ``stability`` and
``noise`` evaluate the laws derived for them (T3, T6, T7). May import ``theory`` and ``verify.core``.
"""
from verify.flows.codegen import (
    BACKENDS as BACKENDS,
    OPTIONAL as OPTIONAL,
    BackendUnavailable as BackendUnavailable,
    chain_order as chain_order,
    SYMMETRIC as SYMMETRIC,
    generate as generate,
    numba_available as numba_available,
)
from verify.flows.continuation import (
    MAX_ESCAPES as MAX_ESCAPES,
    FIRST_STEP as FIRST_STEP,
    ESCAPE_STEP as ESCAPE_STEP,
    label_basis as label_basis,
    ReducedProblem as ReducedProblem,
    continuation_steady_state as continuation_steady_state,
)
from verify.flows.coupled import (
    CoupledState as CoupledState,
    MAX_EVALUATIONS as MAX_EVALUATIONS,
    smallest_hessian_eigenvalue as smallest_hessian_eigenvalue,
    coupled_flow as coupled_flow,
    fixed_feature_flow as fixed_feature_flow,
    integrate_coupled_flow as integrate_coupled_flow,
)
from verify.flows.feature_flow import (
    reachable_basis as reachable_basis,
    FeatureTrajectory as FeatureTrajectory,
    integrate_feature_flow as integrate_feature_flow,
    FeatureSteadyState as FeatureSteadyState,
    feature_steady_state as feature_steady_state,
)
from verify.flows.kernel_flow import (
    DENSE_JACOBIAN_LIMIT as DENSE_JACOBIAN_LIMIT,
    ESCAPE_SIZE as ESCAPE_SIZE,
    MAX_SCALED_TIME as MAX_SCALED_TIME,
    METHODS as METHODS,
    KernelTrajectory as KernelTrajectory,
    SteadyState as SteadyState,
    integrate_kernel_flow as integrate_kernel_flow,
    problem_scale as problem_scale,
    steady_state_rank as steady_state_rank,
    steady_state as steady_state,
    newton_steady_state as newton_steady_state,
)
from verify.flows.kernel_ode import (
    compiled_rhs as compiled_rhs,
    compiled_drive as compiled_drive,
    compiled_jvp as compiled_jvp,
    kernel_ode_jvp as kernel_ode_jvp,
    validate_problem as validate_problem,
    label_scale as label_scale,
    kernel_ode_rhs as kernel_ode_rhs,
    drive_operator as drive_operator,
    kernel_ode_jacobian as kernel_ode_jacobian,
    factored_jacobian as factored_jacobian,
    jacobian_unchecked as jacobian_unchecked,
    rightmost_jacobian_mode as rightmost_jacobian_mode,
)
from verify.flows.kkt import (
    KKTCertificate as KKTCertificate,
    label_factor as label_factor,
    kkt_certificate as kkt_certificate,
    scaled_kkt_certificate as scaled_kkt_certificate,
)
from verify.flows.noise import (
    second_moment_scale as second_moment_scale,
    weight_covariance_scale as weight_covariance_scale,
    noise_factor as noise_factor,
    covariance_rank as covariance_rank,
    feature_noise_covariance as feature_noise_covariance,
    sample_weights as sample_weights,
    batch_weights as batch_weights,
    monte_carlo_feature_noise_covariance as monte_carlo_feature_noise_covariance,
    kernel_increment as kernel_increment,
)
from verify.flows.pseudo_transient import (
    MAX_STEPS as MAX_STEPS,
    MIN_STEP as MIN_STEP,
    PSD_SLACK as PSD_SLACK,
    OBJECTIVE_NOISE as OBJECTIVE_NOISE,
    Continuation as Continuation,
    continue_to_steady_state as continue_to_steady_state,
)
from verify.flows.scaling import (
    MIN_SCALED_DECAY as MIN_SCALED_DECAY,
    RESIDUAL_NOISE as RESIDUAL_NOISE,
    ScaledProblem as ScaledProblem,
    safe_norm as safe_norm,
    attainable as attainable,
    check_resolvable as check_resolvable,
)
from verify.flows.shifted_solve import (
    REDUCED_RTOL as REDUCED_RTOL,
    MAX_KRYLOV as MAX_KRYLOV,
    MAX_EXACT_NEWTON as MAX_EXACT_NEWTON,
    compiled_reduced as compiled_reduced,
    ReducedSystem as ReducedSystem,
    kernel_ode_shifted_solve as kernel_ode_shifted_solve,
    solve_reduced as solve_reduced,
    kernel_newton as kernel_newton,
)
from verify.flows.solver_checks import (
    check_kernels as check_kernels,
    newton_polish as newton_polish,
)
from verify.flows.ssl_continuation import (
    TAU_DECREASE as TAU_DECREASE,
    FIRST_TAU as FIRST_TAU,
    MAX_NEWTON as MAX_NEWTON,
    START_FLOOR as START_FLOOR,
    FINAL_SHIFT as FINAL_SHIFT,
    POLISH_STEPS as POLISH_STEPS,
    POLISH_KRYLOV as POLISH_KRYLOV,
    ARMIJO as ARMIJO,
    ROUNDING_REGION as ROUNDING_REGION,
    BarrierPath as BarrierPath,
    ssl_continuation_steady_state as ssl_continuation_steady_state,
)
from verify.flows.ssl_flow import (
    compiled_ssl_jvp as compiled_ssl_jvp,
    ssl_flow_jvp as ssl_flow_jvp,
    compiled_ssl as compiled_ssl,
    ssl_filter_spectrum as ssl_filter_spectrum,
    ssl_steady_state as ssl_steady_state,
    SSL_MAX_CONDITION as SSL_MAX_CONDITION,
    flow_floor as flow_floor,
    normalised_adjacency as normalised_adjacency,
    spectral_contrastive_embedding as spectral_contrastive_embedding,
)
from verify.flows.ssl_kkt import (
    SSLCertificate as SSLCertificate,
    ssl_units as ssl_units,
    ssl_kkt_certificate as ssl_kkt_certificate,
    scaled_ssl_certificate as scaled_ssl_certificate,
)
from verify.flows.stability import (
    CommutingSteadyState as CommutingSteadyState,
    label_eigenbasis as label_eigenbasis,
    commuting_steady_states as commuting_steady_states,
    predicted_linearisation_spectrum as predicted_linearisation_spectrum,
    Stability as Stability,
    linear_stability as linear_stability,
)
from verify.flows.water_filling import (
    label_spectrum as label_spectrum,
    mode_value as mode_value,
    water_filling_spectrum as water_filling_spectrum,
    mode_rhs as mode_rhs,
    time_to_reach as time_to_reach,
)
