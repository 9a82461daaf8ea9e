"""Hypothesis profiles (choose with HYPOTHESIS_PROFILE=ci|dev|thorough; default ci).

- ci: derandomized (same examples every run), few examples, no deadline — the README's test command.
- dev: random, more examples.
- thorough: many examples, for a long run before a release.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
