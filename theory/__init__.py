"""theory — symbolic derivations of task-driven kernel flows (SymPy only; never imports verify).

>>> import theory
>>> ode = theory.derive_kernel_ode(theory.losses.squared(2))
>>> ode.certified
True
"""
from theory import losses, notation
from theory.certify import Certificate, Derivation, Step
from theory.coupled import derive_coupled
from theory.fixed_features import derive_fixed_features
from theory.gradients import derive_gradients
from theory.kernel_ode import derive_kernel_ode
from theory.noise import derive_noise
from theory.readout import ReadoutNotEliminable, derive_readout
from theory.spectral import water_filling
from theory.ssl import ssl_filter
from theory.stability import linearisation_at_commuting_points
from theory.steady_state import rank_lemma

#: claim id → (what it derives, function of the number of outputs C returning the Derivation)
DERIVATIONS = {
    "T1": ("readout elimination (squared loss)", lambda C=2: derive_readout(losses.squared(C))),
    "T2": ("kernel ODE (squared loss)", lambda C=2: derive_kernel_ode(losses.squared(C))),
    "T3": ("water-filling law", lambda C=2: water_filling(losses.squared(C))),
    "T4": ("rank lemma", lambda C=2: rank_lemma()),
    "T5": ("coupled stationarity (softmax cross-entropy; any loss via theory.derive_coupled)",
           lambda C=2: derive_coupled(losses.softmax_cross_entropy(max(C, 2)))),
    "T6": ("linearisation at commuting points", lambda C=2: linearisation_at_commuting_points(losses.squared(C))),
    "T7": ("SGD noise structure", lambda C=2: derive_noise()),
    "T8": ("self-supervised Laplacian filter", lambda C=2: ssl_filter()),
    "T9": ("fixed-feature compression (orthonormal Ψ): T2/T3 in p dimensions with labels YΨᵀ", lambda C=2: derive_fixed_features(C)),
}

__all__ = ["Certificate", "DERIVATIONS", "Derivation", "ReadoutNotEliminable", "Step", "derive_coupled", "derive_gradients", "derive_noise",
           "derive_kernel_ode", "derive_readout", "linearisation_at_commuting_points", "losses", "notation", "rank_lemma", "ssl_filter", "water_filling"]
