"""Errors that every layer raises: a numerical procedure that did not meet its own criterion.

A function that cannot certify what it would return raises instead of returning it; the campaign
reports such a claim as an error (exit status 3), never as a pass or a fail.
"""


class ConvergenceError(RuntimeError):
    """The flow did not meet the steady-state criterion within the allowed time."""
