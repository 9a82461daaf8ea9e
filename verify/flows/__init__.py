"""verify.flows — code generated from the derivations, and the flows and steady states it drives.

``codegen`` turns a certified expression into NumPy (numba, CuPy) code; ``kernel_ode`` is the kernel
ODE's right-hand side, drive and Jacobian; ``kernel_flow``, ``feature_flow``, ``coupled`` and
``ssl_flow`` integrate the flows to their steady states; ``water_filling``, ``stability`` and
``noise`` evaluate the laws derived for them (T3, T6, T7). May import ``theory`` and ``verify.core``.
"""
from verify.flows.codegen import (
    BACKENDS as BACKENDS,
    OPTIONAL as OPTIONAL,
    SYMMETRIC as SYMMETRIC,
    BackendUnavailable as BackendUnavailable,
    chain_order as chain_order,
    generate as generate,
    numba_available as numba_available,
    step_function as step_function,
)
from verify.flows.continuation import (
    ESCAPE_STEP as ESCAPE_STEP,
    FIRST_STEP as FIRST_STEP,
    MAX_ESCAPES as MAX_ESCAPES,
    ReducedProblem as ReducedProblem,
    continuation_steady_state as continuation_steady_state,
    label_basis as label_basis,
)
from verify.flows.coupled import (
    MAX_EVALUATIONS as MAX_EVALUATIONS,
    CoupledState as CoupledState,
    coupled_flow as coupled_flow,
    fixed_feature_flow as fixed_feature_flow,
    integrate_coupled_flow as integrate_coupled_flow,
    smallest_hessian_eigenvalue as smallest_hessian_eigenvalue,
)
from verify.flows.extensions import (
    bias_law_spectrum as bias_law_spectrum,
    bias_rhs as bias_rhs,
    centring as centring,
    flow_steady_state as flow_steady_state,
    penalty_law_spectrum as penalty_law_spectrum,
    penalty_level as penalty_level,
    penalty_rhs as penalty_rhs,
)
from verify.flows.feature_flow import (
    FeatureSteadyState as FeatureSteadyState,
    FeatureTrajectory as FeatureTrajectory,
    feature_steady_state as feature_steady_state,
    integrate_feature_flow as integrate_feature_flow,
    reachable_basis as reachable_basis,
)
from verify.flows.kernel_flow import (
    DENSE_JACOBIAN_LIMIT as DENSE_JACOBIAN_LIMIT,
    ESCAPE_SIZE as ESCAPE_SIZE,
    MAX_SCALED_TIME as MAX_SCALED_TIME,
    METHODS as METHODS,
    KernelTrajectory as KernelTrajectory,
    SteadyState as SteadyState,
    integrate_kernel_flow as integrate_kernel_flow,
    newton_steady_state as newton_steady_state,
    problem_scale as problem_scale,
    steady_state as steady_state,
    steady_state_rank as steady_state_rank,
)
from verify.flows.kernel_ode import (
    compiled_drive as compiled_drive,
    compiled_jvp as compiled_jvp,
    compiled_rhs as compiled_rhs,
    drive_operator as drive_operator,
    factored_jacobian as factored_jacobian,
    jacobian_unchecked as jacobian_unchecked,
    kernel_ode_jacobian as kernel_ode_jacobian,
    kernel_ode_jvp as kernel_ode_jvp,
    kernel_ode_rhs as kernel_ode_rhs,
    label_scale as label_scale,
    rightmost_jacobian_mode as rightmost_jacobian_mode,
    scaled_finite as scaled_finite,
    validate_problem as validate_problem,
)
from verify.flows.kkt import (
    KKTCertificate as KKTCertificate,
    kkt_certificate as kkt_certificate,
    label_factor as label_factor,
    scaled_kkt_certificate as scaled_kkt_certificate,
)
from verify.flows.model_continuation import (
    CONTINUATION_LIMIT as CONTINUATION_LIMIT,
    JACOBIAN_STEP as JACOBIAN_STEP,
    ModelFunctions as ModelFunctions,
    ModelKKTCertificate as ModelKKTCertificate,
    ModelProblem as ModelProblem,
    drive_and_rhs as drive_and_rhs,
    model_continuation_steady_state as model_continuation_steady_state,
    model_kkt_certificate as model_kkt_certificate,
)
from verify.flows.model_flow import (
    model_kkt as model_kkt,
    model_objective as model_objective,
    model_rhs as model_rhs,
    model_steady_state as model_steady_state,
)
from verify.flows.noise import (
    batch_weights as batch_weights,
    covariance_rank as covariance_rank,
    feature_noise_covariance as feature_noise_covariance,
    kernel_increment as kernel_increment,
    monte_carlo_feature_noise_covariance as monte_carlo_feature_noise_covariance,
    noise_factor as noise_factor,
    sample_weights as sample_weights,
    second_moment_scale as second_moment_scale,
    weight_covariance_scale as weight_covariance_scale,
)
from verify.flows.pseudo_transient import (
    MAX_STEPS as MAX_STEPS,
    MIN_STEP as MIN_STEP,
    OBJECTIVE_NOISE as OBJECTIVE_NOISE,
    PSD_SLACK as PSD_SLACK,
    Continuation as Continuation,
    continue_to_steady_state as continue_to_steady_state,
)
from verify.flows.scaling import (
    MIN_SCALED_DECAY as MIN_SCALED_DECAY,
    RESIDUAL_NOISE as RESIDUAL_NOISE,
    ScaledProblem as ScaledProblem,
    attainable as attainable,
    check_resolvable as check_resolvable,
    safe_norm as safe_norm,
)
from verify.flows.shifted_solve import (
    MAX_EXACT_NEWTON as MAX_EXACT_NEWTON,
    MAX_KRYLOV as MAX_KRYLOV,
    REDUCED_RTOL as REDUCED_RTOL,
    ReducedSystem as ReducedSystem,
    compiled_reduced as compiled_reduced,
    kernel_newton as kernel_newton,
    kernel_ode_shifted_solve as kernel_ode_shifted_solve,
    solve_reduced as solve_reduced,
)
from verify.flows.solver_checks import (
    check_kernels as check_kernels,
    newton_polish as newton_polish,
)
from verify.flows.ssl_continuation import (
    ARMIJO as ARMIJO,
    FINAL_SHIFT as FINAL_SHIFT,
    FIRST_TAU as FIRST_TAU,
    MAX_NEWTON as MAX_NEWTON,
    POLISH_KRYLOV as POLISH_KRYLOV,
    POLISH_STEPS as POLISH_STEPS,
    ROUNDING_REGION as ROUNDING_REGION,
    START_FLOOR as START_FLOOR,
    TAU_DECREASE as TAU_DECREASE,
    BarrierPath as BarrierPath,
    ssl_continuation_steady_state as ssl_continuation_steady_state,
)
from verify.flows.ssl_flow import (
    SSL_MAX_CONDITION as SSL_MAX_CONDITION,
    compiled_ssl as compiled_ssl,
    compiled_ssl_jvp as compiled_ssl_jvp,
    flow_floor as flow_floor,
    normalised_adjacency as normalised_adjacency,
    spectral_contrastive_embedding as spectral_contrastive_embedding,
    ssl_filter_spectrum as ssl_filter_spectrum,
    ssl_flow_jvp as ssl_flow_jvp,
    ssl_steady_state as ssl_steady_state,
)
from verify.flows.ssl_kkt import (
    SSLCertificate as SSLCertificate,
    scaled_ssl_certificate as scaled_ssl_certificate,
    ssl_kkt_certificate as ssl_kkt_certificate,
    ssl_units as ssl_units,
)
from verify.flows.stability import (
    CommutingSteadyState as CommutingSteadyState,
    Stability as Stability,
    commuting_steady_states as commuting_steady_states,
    label_eigenbasis as label_eigenbasis,
    linear_stability as linear_stability,
    predicted_linearisation_spectrum as predicted_linearisation_spectrum,
)
from verify.flows.water_filling import (
    label_spectrum as label_spectrum,
    mode_rhs as mode_rhs,
    mode_value as mode_value,
    time_to_reach as time_to_reach,
    water_filling_spectrum as water_filling_spectrum,
)
