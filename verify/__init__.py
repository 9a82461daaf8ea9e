"""verify — numeric side of kernel-flows: generated code, flows, ranks, judges, claims, campaign.

>>> import numpy as np, verify
>>> Y = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
>>> verify.water_filling_spectrum(Y, lam=0.5, mu=0.1)
array([2.66227766, 2.66227766, 0.        , 0.        ])
>>> K = verify.steady_state(np.eye(4) + 0.1, Y, lam=0.5, mu=0.1)
>>> verify.numerical_rank(K) <= Y.shape[0]
True
"""
from verify import instances
from verify.coupled import coupled_flow, fixed_feature_flow, integrate_coupled_flow
from verify.feature_flow import feature_steady_state, integrate_feature_flow
from verify.flows import ConvergenceError, KernelTrajectory, SteadyState, integrate_kernel_flow, steady_state
from verify.ground_truth import check_kernel_ode
from verify.kernel_ode import drive_operator, kernel_ode_jacobian, kernel_ode_rhs
from verify.linalg import certified_rank, confirmed_rank, numerical_rank, relative_error
from verify.noise import feature_noise_covariance
from verify.ssl import ssl_steady_state
from verify.stability import commuting_steady_states, linear_stability, predicted_linearisation_spectrum
from verify.tolerances import TOL
from verify.verdict import CheckError, Verdict
from verify.water_filling import time_to_reach, water_filling_spectrum

__all__ = ["TOL", "CheckError", "ConvergenceError", "instances", "coupled_flow", "fixed_feature_flow", "integrate_coupled_flow", "KernelTrajectory", "SteadyState", "Verdict", "certified_rank",
           "check_kernel_ode", "commuting_steady_states", "confirmed_rank", "drive_operator", "feature_noise_covariance", "feature_steady_state", "integrate_feature_flow",
           "integrate_kernel_flow", "kernel_ode_jacobian", "kernel_ode_rhs", "linear_stability", "numerical_rank",
           "predicted_linearisation_spectrum", "relative_error", "ssl_steady_state", "steady_state", "time_to_reach",
           "water_filling_spectrum"]
