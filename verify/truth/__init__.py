"""verify.truth — ground truth that never uses the derivation it judges; never imports ``theory``.

Random instances, finite differences of the objective, direct minimisers, nuclear-norm regression
and the wrong models used as negative controls. An import contract (``.importlinter``) enforces that
nothing here reaches ``theory``, directly or through another module.
"""
from verify.truth.direct_minimisers import (
    GRADIENT_RTOL as GRADIENT_RTOL,
    MINIMISER_OPTIONS as MINIMISER_OPTIONS,
    MinimisationError as MinimisationError,
    full_objective as full_objective,
    minimise_bias_objective as minimise_bias_objective,
    minimise_full_objective as minimise_full_objective,
    minimise_penalised_objective as minimise_penalised_objective,
    minimise_reduced_objective as minimise_reduced_objective,
    minimise_ssl_energy as minimise_ssl_energy,
    reduced_value_and_K_gradient as reduced_value_and_K_gradient,
    ssl_energy as ssl_energy,
    ssl_value_and_K_gradient as ssl_value_and_K_gradient,
)
from verify.truth.finite_differences import (
    FD_STEP as FD_STEP,
    check_kernel_ode as check_kernel_ode,
    default_instances as default_instances,
    kernel_velocity_by_finite_differences as kernel_velocity_by_finite_differences,
    optimal_readout as optimal_readout,
)
from verify.truth.instances import (
    features as features,
    gaussian_mixture as gaussian_mixture,
    generic_kernel as generic_kernel,
    knn_graph as knn_graph,
    labels_with_spectrum as labels_with_spectrum,
    laplacian as laplacian,
    log_uniform as log_uniform,
    one_hot_labels as one_hot_labels,
    random_geometric_graph as random_geometric_graph,
    real_labels as real_labels,
    stochastic_block_model as stochastic_block_model,
)
from verify.truth.negative_controls import (
    WRONG_KERNEL_ODES as WRONG_KERNEL_ODES,
    dropped_factor as dropped_factor,
    one_sided_drive as one_sided_drive,
    shifted_inverse as shifted_inverse,
    sign_flip as sign_flip,
    squared_resolvent as squared_resolvent,
    wrong_decay as wrong_decay,
)
from verify.truth.nuclear_norm import (
    nuclear_norm_regression as nuclear_norm_regression,
    singular_value_threshold as singular_value_threshold,
)
from verify.truth.model_objective import (
    COMPLEX_STEP as COMPLEX_STEP,
    eliminated_minimiser as eliminated_minimiser,
    feature_gradient as feature_gradient,
    kernel_velocity as kernel_velocity,
    objective_at_minimiser as objective_at_minimiser,
)
