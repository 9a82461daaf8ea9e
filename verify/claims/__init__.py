"""verify.claims — one module per claim id (``t1_readout`` … ``t10_real_networks``; ``e1_readout_bias`` and
``e2_kernel_penalty`` for the worked extensions) and their registry.

Importing the package registers every claim; ``REGISTRY`` maps an id to its :class:`Claim`. Helpers
that several claims share live in ``shared``; ``common`` combines a claim's parts into one verdict.

>>> list(REGISTRY)
['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10', 'E1', 'E2']
"""
# ruff: noqa: I001 — the registry first, then each claim module, which registers its claim on import
from verify.claims.registry import (
    PROFILES as PROFILES,
    REGISTRY as REGISTRY,
    Claim as Claim,
    Context as Context,
    get as get,
    register as register,
)
from verify.claims import t1_readout as t1_readout
from verify.claims import t2_kernel_ode as t2_kernel_ode
from verify.claims import t3_water_filling as t3_water_filling
from verify.claims import t4_rank as t4_rank
from verify.claims import t5_coupled as t5_coupled
from verify.claims import t6_stability as t6_stability
from verify.claims import t7_noise as t7_noise
from verify.claims import t8_ssl as t8_ssl
from verify.claims import t9_compression as t9_compression
from verify.claims import t10_real_networks as t10_real_networks
from verify.claims import e1_readout_bias as e1_readout_bias
from verify.claims import e2_kernel_penalty as e2_kernel_penalty
