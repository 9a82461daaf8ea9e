"""verify.truth — ground truth that never uses the derivation it judges; never imports ``theory``.

Random instances, finite differences of the objective, direct minimisers, nuclear-norm regression
and the wrong models used as negative controls. An import contract (``.importlinter``) enforces that
nothing here reaches ``theory``, directly or through another module.
"""
from verify.truth.direct_minimisers import (
    MINIMISER_OPTIONS as MINIMISER_OPTIONS,
    GRADIENT_RTOL as GRADIENT_RTOL,
    MinimisationError as MinimisationError,
    full_objective as full_objective,
    reduced_value_and_K_gradient as reduced_value_and_K_gradient,
    minimise_reduced_objective as minimise_reduced_objective,
    minimise_full_objective as minimise_full_objective,
    ssl_energy as ssl_energy,
    ssl_value_and_K_gradient as ssl_value_and_K_gradient,
    minimise_ssl_energy as minimise_ssl_energy,
)
from verify.truth.finite_differences import (
    FD_STEP as FD_STEP,
    optimal_readout as optimal_readout,
    kernel_velocity_by_finite_differences as kernel_velocity_by_finite_differences,
    default_instances as default_instances,
    check_kernel_ode as check_kernel_ode,
)
from verify.truth.instances import (
    one_hot_labels as one_hot_labels,
    real_labels as real_labels,
    labels_with_spectrum as labels_with_spectrum,
    features as features,
    generic_kernel as generic_kernel,
    log_uniform as log_uniform,
    gaussian_mixture as gaussian_mixture,
    laplacian as laplacian,
    stochastic_block_model as stochastic_block_model,
    random_geometric_graph as random_geometric_graph,
    knn_graph as knn_graph,
)
from verify.truth.negative_controls import (
    dropped_factor as dropped_factor,
    one_sided_drive as one_sided_drive,
    wrong_decay as wrong_decay,
    sign_flip as sign_flip,
    shifted_inverse as shifted_inverse,
    squared_resolvent as squared_resolvent,
    WRONG_KERNEL_ODES as WRONG_KERNEL_ODES,
)
from verify.truth.nuclear_norm import (
    singular_value_threshold as singular_value_threshold,
    nuclear_norm_regression as nuclear_norm_regression,
)
