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
    Whitening as Whitening,
    whiten as whiten,
    ridge_predict as ridge_predict,
    effective_dof as effective_dof,
    kernel_dof as kernel_dof,
    law_kernel as law_kernel,
    Compression as Compression,
    compress as compress,
    BiasVariance as BiasVariance,
    bias_variance as bias_variance,
    population_modes as population_modes,
    study_draws as study_draws,
    CompressionStudy as CompressionStudy,
    compression_study as compression_study,
)
from verify.experiments.data import (
    Dataset as Dataset,
    from_arrays as from_arrays,
    LOADERS as LOADERS,
    register_loader as register_loader,
    load as load,
    load_digits as load_digits,
    TABULAR as TABULAR,
    load_tabular as load_tabular,
    shifted as shifted,
    augmentation_graph as augmentation_graph,
)
from verify.experiments.hessian import (
    HVP_STEP as HVP_STEP,
    DENSE_STEP as DENSE_STEP,
    ACTIVATION_DERIVATIVES as ACTIVATION_DERIVATIVES,
    flatten as flatten,
    unflatten as unflatten,
    flat_gradient as flat_gradient,
    HessianOperator as HessianOperator,
    hessian_vector_product as hessian_vector_product,
    dense_hessian as dense_hessian,
    top_hessian_eigenpairs as top_hessian_eigenpairs,
    top_hessian_eigenvalue as top_hessian_eigenvalue,
    gradient_overlap as gradient_overlap,
    activation_pattern as activation_pattern,
    pattern_safe_step as pattern_safe_step,
    finite_difference_hvp as finite_difference_hvp,
    finite_difference_hessian as finite_difference_hessian,
)
from verify.experiments.network_noise import (
    network_feature_noise as network_feature_noise,
    network_monte_carlo_feature_noise_covariance as network_monte_carlo_feature_noise_covariance,
    network_enumerated_feature_noise_covariance as network_enumerated_feature_noise_covariance,
    network_kernel_increment as network_kernel_increment,
)
from verify.experiments.networks import (
    ACTIVATIONS as ACTIVATIONS,
    Model as Model,
    UFM as UFM,
    FixedFeatures as FixedFeatures,
    TwoLayer as TwoLayer,
    loss_functions as loss_functions,
    TrainingRecord as TrainingRecord,
    train as train,
    draw_batch as draw_batch,
    minibatch_gradient as minibatch_gradient,
    TrackingReport as TrackingReport,
    kernel_flow_tracking_error as kernel_flow_tracking_error,
    KernelRankReport as KernelRankReport,
    kernel_rank_report as kernel_rank_report,
)
from verify.experiments.real_networks import (
    STEP_FRACTION as STEP_FRACTION,
    LOSS_CURVATURE_SUP as LOSS_CURVATURE_SUP,
    STABILITY_LIMIT as STABILITY_LIMIT,
    REFERENCE_WIDTH as REFERENCE_WIDTH,
    step_size as step_size,
    training_study as training_study,
    hessian_study as hessian_study,
    tracking_study as tracking_study,
)
from verify.experiments.studies import (
    tracking_errors as tracking_errors,
    two_layer_kernel_ranks as two_layer_kernel_ranks,
    per_sample_gradients as per_sample_gradients,
    outlier_count as outlier_count,
    gradient_noise_outliers as gradient_noise_outliers,
)
