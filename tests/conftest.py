"""Hypothesis profiles (choose with HYPOTHESIS_PROFILE=ci|dev|thorough; default ci).

- ci: derandomized (same examples every run), few examples, no deadline — the README's test command.
- dev: random, more examples.
- thorough: many examples, for a long run before a release.
"""
import os

# The suite works on small matrices, where a multi-threaded BLAS spends more time synchronising than
# computing (3× slower on 2 cores, measured): one thread here and in every child process (notebook
# kernels, CLI runs), unless the caller chose otherwise.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
try:  # numpy may already be loaded with its thread pool started
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))
except ImportError:  # threadpoolctl comes with scikit-learn (test extra); without it, env vars only
    pass

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", derandomize=True, max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
