"""Every derivation step of every claim is certified on its own sides (parametrised over theory.DERIVATIONS).

The expected step names are listed here so that a step silently dropped from a derivation fails.
"""
import pytest

import theory

EXPECTED_STEPS = {
    "T1": ["output gradient", "readout gradient", "feature gradient", "affine gradient", "stationarity in W",
           "optimal readout", "push-through", "optimal outputs", "optimal output gradient", "quadratic loss",
           "reduced objective"],
    "T2": ["feature flow", "drive operator", "product rule", "kernel ODE", "Jacobian", "factored Jacobian",
           "shifted solve", "reduced equation", "objective gradient", "gradient flow", "convexity"],
    "T3": ["commuting reduction", "fixed points", "threshold", "stability", "time to reach"],
    "T4": ["eigenbasis form", "range K ⊆ ker A", "PSD is needed", "ker(D − μI) ⊆ range D"],
    "T5": ["coupled flow", "readout flow", "feature stationarity", "kernel rank", "readout stationarity",
           "zero column sums", "readout in a hyperplane", "kernel rank C − 1", "fixed-feature gradient",
           "fixed-feature kernel flow", "fixed-feature stationarity", "fixed-feature kernel rank", "fixed-feature flow"],
    "T7": ["sampling weights without replacement", "sampling weights with replacement", "feature noise covariance",
           "kernel increment"],
    "T8": ["energy gradient", "commuting reduction", "fixed points", "threshold and stability", "resolvent form", "Jacobian",
           "factored Jacobian", "convexity"],
    "T6": ["decoupling", "pair rate", "diagonal rate", "water-filled is stable", "empty fillable mode is unstable"],
    "T9": ["fixed-feature kernel", "orthonormal rows", "penalty", "Woodbury", "resolvent", "push-through",
           "reduced objective", "compressed flow", "compressed steady state", "kernel-ridge predictor",
           "degrees of freedom", "soft thresholding", "fixed-kernel bias and variance"],
    "E1": ["model", "bias gradient", "optimal bias", "centred residual", "readout gradient", "optimal readout",
           "optimal output gradient", "feature gradient", "drive operator", "mean mode", "rank of the drive",
           "rank, any labels", "kernel ODE", "centred steady states"],
    "E2": ["model", "readout gradient", "optimal readout", "feature gradient", "kernel ODE", "rank at steady states",
           "mode ODE", "empty mode", "g decreasing", "filled level"],
}
#: steps that introduce a symbol or state a hypothesis: shown, never counted as certificates
DEFINITIONS = {("T9", "fixed-feature kernel"), ("T9", "orthonormal rows"), ("E1", "model"), ("E2", "model")}
CASES = [(claim, C, step) for claim, steps in EXPECTED_STEPS.items() for C in (1, 2, 3) for step in steps]


def test_every_registered_derivation_is_listed():
    assert set(theory.DERIVATIONS) == set(EXPECTED_STEPS)


@pytest.mark.parametrize("claim, C, step", CASES)
def test_step_is_present_and_certified(claim, C, step):
    derivation = theory.DERIVATIONS[claim][1](C)
    found = derivation.step(step)
    assert found.is_definition == ((claim, step) in DEFINITIONS)
    assert found.holds, found.certificate.summary()
    if not found.is_definition:
        assert found.certificate.trials, "a certificate must say where it was checked"


@pytest.mark.parametrize("claim", sorted(EXPECTED_STEPS))
def test_claim_steps_are_named_by_their_claim(claim):
    derivation = theory.DERIVATIONS[claim][1](2)
    own = [s.name for s in derivation.steps if s.claim == claim]
    assert own == EXPECTED_STEPS[claim]
