"""theory — symbolic derivations of task-driven kernel flows (SymPy only; never imports verify).

One module per claim id, named ``t<k>_<subject>`` (``t1_readout`` … ``t9_fixed_features``), each with
a ``derive_*`` function returning a certified :class:`Derivation`; the machinery they share is in
``certify`` (steps and certificates), ``gradients``, ``matrix_algebra``, ``losses`` and ``limits``.
Extensions are built from named, certified steps with :class:`DerivationBuilder` (``derivation_builder``;
``e1_readout_bias`` and ``e2_kernel_penalty`` are worked examples) and registered with
:func:`register_derivation`.

>>> import theory
>>> ode = theory.derive_kernel_ode(theory.losses.squared(2))
>>> ode.certified
True
"""
from theory import losses as losses, notation as notation
from theory.certify import Certificate as Certificate, Derivation as Derivation, Step as Step
from theory.derivation_builder import (
    BuiltDerivation as BuiltDerivation,
    DerivationBuilder as DerivationBuilder,
    register_derivation as register_derivation,
)
from theory.e1_readout_bias import derive_readout_bias as derive_readout_bias
from theory.e2_kernel_penalty import derive_kernel_penalty as derive_kernel_penalty
from theory.gradients import derive_gradients as derive_gradients
from theory.model_derivation import ModelDerivation as ModelDerivation, derive_model as derive_model
from theory.t1_readout import ReadoutNotEliminable as ReadoutNotEliminable, derive_readout as derive_readout
from theory.t2_kernel_jacobian import derive_kernel_jacobian as derive_kernel_jacobian
from theory.t2_kernel_ode import derive_kernel_ode as derive_kernel_ode
from theory.t3_water_filling import derive_water_filling as derive_water_filling
from theory.t4_rank_lemma import derive_rank_lemma as derive_rank_lemma
from theory.t5_coupled import derive_coupled as derive_coupled
from theory.t6_stability import derive_linearisation as derive_linearisation
from theory.t7_noise import derive_noise as derive_noise
from theory.t8_ssl import derive_ssl_filter as derive_ssl_filter
from theory.t8_ssl_jacobian import derive_ssl_jacobian as derive_ssl_jacobian
from theory.t9_fixed_features import derive_fixed_features as derive_fixed_features

DERIVATIONS = {
    "T1": ("readout elimination (squared loss)", lambda C=2: derive_readout(losses.squared(C))),
    "T2": ("kernel ODE, its Jacobian and the objective it descends (squared loss)", lambda C=2: derive_kernel_jacobian(C)),
    "T3": ("water-filling law", lambda C=2: derive_water_filling(losses.squared(C))),
    "T4": ("rank lemma", lambda C=2: derive_rank_lemma()),
    "T5": ("coupled stationarity (softmax cross-entropy; any loss via theory.derive_coupled)",
           lambda C=2: derive_coupled(losses.softmax_cross_entropy(max(C, 2)))),
    "T6": ("linearisation at commuting points", lambda C=2: derive_linearisation(losses.squared(C))),
    "T7": ("SGD noise structure", lambda C=2: derive_noise()),
    "T8": ("self-supervised Laplacian filter, the SSL flow's Jacobian and the convex energy it descends",
           lambda C=2: derive_ssl_jacobian()),
    "T9": ("fixed-feature compression (orthonormal Ψ): T2/T3 in p dimensions with labels YΨᵀ", lambda C=2: derive_fixed_features(C)),
    "E1": ("extension: a readout with a bias (rank ≤ rank YH, C − 1 for one-hot labels; water-filling of HSH)",
           lambda C=2: derive_readout_bias(C)),
    "E2": ("extension: a penalty (ν/4)‖K‖²_F on the kernel (rank ≤ C, T3's threshold, a cubic level)",
           lambda C=2: derive_kernel_penalty(C)),
}
"""Claim id → (what it derives, function of the number of outputs C returning the Derivation). T1–T9 are the
theory's claims, E1 and E2 worked extensions built with :class:`DerivationBuilder`; add yours with
:func:`register_derivation` (``kflow derive ID`` then shows it)."""
