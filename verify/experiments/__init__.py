"""verify.experiments — networks, data and the studies run on them (T7, T9, T10).

NumPy networks with a linear readout, data loaders, neural-collapse metrics, Hessian instruments,
SGD noise read off the network code, the fixed-feature compression study and the trained-network
studies. May import ``theory``, ``verify.core``, ``verify.flows`` and ``verify.truth``; never the
claims or the campaign.
"""
from verify.experiments.collapse import (
    CollapseMetrics as CollapseMetrics,
    class_means as class_means,
    collapse_metrics as collapse_metrics,
)
from verify.experiments.compression import (
    METHODS as METHODS,
    BiasVariance as BiasVariance,
    Compression as Compression,
    CompressionStudy as CompressionStudy,
    Whitening as Whitening,
    bias_variance as bias_variance,
    compress as compress,
    compression_study as compression_study,
    effective_dof as effective_dof,
    kernel_dof as kernel_dof,
    law_kernel as law_kernel,
    population_modes as population_modes,
    ridge_predict as ridge_predict,
    study_draws as study_draws,
    whiten as whiten,
)
from verify.experiments.data import (
    LOADERS as LOADERS,
    MNIST1D_LENGTH as MNIST1D_LENGTH,
    TABULAR as TABULAR,
    Dataset as Dataset,
    augmentation_graph as augmentation_graph,
    from_arrays as from_arrays,
    load as load,
    load_digits as load_digits,
    load_mnist1d as load_mnist1d,
    load_tabular as load_tabular,
    register_loader as register_loader,
    shifted as shifted,
)
from verify.experiments.hessian import (
    ACTIVATION_DERIVATIVES as ACTIVATION_DERIVATIVES,
    DENSE_STEP as DENSE_STEP,
    HVP_STEP as HVP_STEP,
    HessianOperator as HessianOperator,
    activation_pattern as activation_pattern,
    dense_hessian as dense_hessian,
    finite_difference_hessian as finite_difference_hessian,
    finite_difference_hvp as finite_difference_hvp,
    flat_gradient as flat_gradient,
    flatten as flatten,
    gradient_overlap as gradient_overlap,
    hessian_vector_product as hessian_vector_product,
    pattern_safe_step as pattern_safe_step,
    top_hessian_eigenpairs as top_hessian_eigenpairs,
    top_hessian_eigenvalue as top_hessian_eigenvalue,
    unflatten as unflatten,
)
from verify.experiments.network_noise import (
    network_enumerated_feature_noise_covariance as network_enumerated_feature_noise_covariance,
    network_feature_noise as network_feature_noise,
    network_kernel_increment as network_kernel_increment,
    network_monte_carlo_feature_noise_covariance as network_monte_carlo_feature_noise_covariance,
)
from verify.experiments.networks import (
    ACTIVATIONS as ACTIVATIONS,
    UFM as UFM,
    FixedFeatures as FixedFeatures,
    KernelRankReport as KernelRankReport,
    Model as Model,
    TrackingReport as TrackingReport,
    TrainingRecord as TrainingRecord,
    TwoLayer as TwoLayer,
    draw_batch as draw_batch,
    kernel_flow_tracking_error as kernel_flow_tracking_error,
    kernel_rank_report as kernel_rank_report,
    loss_functions as loss_functions,
    minibatch_gradient as minibatch_gradient,
    train as train,
)
from verify.experiments.real_networks import (
    LOSS_CURVATURE_SUP as LOSS_CURVATURE_SUP,
    REFERENCE_WIDTH as REFERENCE_WIDTH,
    STABILITY_LIMIT as STABILITY_LIMIT,
    STEP_FRACTION as STEP_FRACTION,
    hessian_study as hessian_study,
    step_size as step_size,
    tracking_study as tracking_study,
    training_study as training_study,
)
from verify.experiments.studies import (
    gradient_noise_outliers as gradient_noise_outliers,
    outlier_count as outlier_count,
    per_sample_gradients as per_sample_gradients,
    tracking_errors as tracking_errors,
    two_layer_kernel_ranks as two_layer_kernel_ranks,
)
