"""verify — numeric side of kernel-flows, in layers (each imports only those below it):

- ``verify.core``: errors, tolerances, validation, linear algebra and ranks, verdicts (no ``theory``);
- ``verify.flows``: code generated from the derivations; kernel, feature, coupled and SSL flows;
- ``verify.truth``: ground truth that never imports ``theory`` (instances, finite differences,
  direct minimisers, negative controls);
- ``verify.experiments``: networks, data and studies;
- ``verify.claims``: the registry and one module per claim id (``t1_readout`` … ``t10_real_networks``);
- ``verify.campaign``: ``kflow``, the campaign, report and figures.

The names below are the stable public surface.

>>> import numpy as np, verify
>>> Y = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
>>> verify.water_filling_spectrum(Y, lam=0.5, mu=0.1)
array([2.66227766, 2.66227766, 0.        , 0.        ])
>>> K = verify.steady_state(np.eye(4) + 0.1, Y, lam=0.5, mu=0.1)
>>> verify.numerical_rank(K) <= Y.shape[0]
True
"""
from verify.core.errors import ConvergenceError as ConvergenceError
from verify.core.linalg import (
    certified_rank as certified_rank,
    confirmed_rank as confirmed_rank,
    numerical_rank as numerical_rank,
    relative_error as relative_error,
)
from verify.core.tolerances import TOL as TOL
from verify.core.verdict import CheckError as CheckError, Verdict as Verdict
from verify.flows.codegen import generate as generate, step_function as step_function
from verify.flows.coupled import (
    coupled_flow as coupled_flow,
    fixed_feature_flow as fixed_feature_flow,
    integrate_coupled_flow as integrate_coupled_flow,
)
from verify.flows.feature_flow import (
    feature_steady_state as feature_steady_state,
    integrate_feature_flow as integrate_feature_flow,
)
from verify.flows.kernel_flow import (
    KernelTrajectory as KernelTrajectory,
    SteadyState as SteadyState,
    integrate_kernel_flow as integrate_kernel_flow,
    steady_state as steady_state,
)
from verify.flows.kernel_ode import (
    drive_operator as drive_operator,
    kernel_ode_jacobian as kernel_ode_jacobian,
    kernel_ode_jvp as kernel_ode_jvp,
    kernel_ode_rhs as kernel_ode_rhs,
)
from verify.flows.kkt import KKTCertificate as KKTCertificate, kkt_certificate as kkt_certificate
from verify.flows.model_flow import (
    model_kkt as model_kkt,
    model_objective as model_objective,
    model_rhs as model_rhs,
    model_steady_state as model_steady_state,
)
from verify.flows.noise import feature_noise_covariance as feature_noise_covariance
from verify.flows.shifted_solve import kernel_ode_shifted_solve as kernel_ode_shifted_solve
from verify.flows.ssl_flow import ssl_steady_state as ssl_steady_state
from verify.flows.ssl_kkt import SSLCertificate as SSLCertificate, ssl_kkt_certificate as ssl_kkt_certificate
from verify.flows.stability import (
    commuting_steady_states as commuting_steady_states,
    linear_stability as linear_stability,
    predicted_linearisation_spectrum as predicted_linearisation_spectrum,
)
from verify.flows.water_filling import time_to_reach as time_to_reach, water_filling_spectrum as water_filling_spectrum
from verify.truth import instances as instances
from verify.truth.finite_differences import check_kernel_ode as check_kernel_ode
