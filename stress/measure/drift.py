"""Comparing policies field by field: a measured one with a declared one (``--expect``), or a
target's published one with a scenario's (``run``'s warning).

A measured grace window (or tolerance) agrees with the declared one when they are within its
search's resolution; a value the search stopped at (a lower bound) agrees with any declared value at
least as large. A field that was not measured is not compared, and the comparison says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from stress.measure.result import FIELDS, FieldName, FieldValue, Measurement, policy_values
from stress.policy import Policy

__all__ = ["Drift", "differences", "drift"]


@dataclass(frozen=True)
class Drift:
    """One field whose two values disagree."""

    field: FieldName
    found: FieldValue
    declared: FieldValue

    def describe(self, found_as: str = "measured") -> str:
        return f"{self.field}: {found_as} {_show(self.found)}, declared {_show(self.declared)}"


def _show(value: FieldValue) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def differences(found: Policy, declared: Policy) -> list[Drift]:
    """Every field on which two policies differ, exactly."""
    ours, theirs = policy_values(found), policy_values(declared)
    return [Drift(name, ours[name], theirs[name]) for name in FIELDS if ours[name] != theirs[name]]


# The fields a measurement that rejected no replay leaves open to a target retiring nothing
# (a use that ends the window, or a limit on replays, rejects one, so they are never among them).
_RETIREMENT = tuple(
    name for name in FIELDS if name not in ("refresh_revokes_access", "use_retires", "max_replays")
)


def drift(measurement: Measurement, declared: Policy) -> tuple[list[Drift], list[str]]:
    """The measured fields that contradict ``declared``, and a note per field not compared.

    A target that rejected no replay, however late or old (``Measurement.retires_nothing``), may
    not retire refresh tokens at all: its fields are lower bounds that a declared ``none`` does
    not contradict, so only whether a refresh revokes the access token is compared then.
    """
    expected = policy_values(declared)
    drifts, skipped = [], []
    brackets = {"grace_seconds": measurement.grace, "tolerance_seconds": measurement.tolerance}
    unretired = measurement.retires_nothing and not declared.rotates
    for result in measurement.fields:
        name, want = result.name, expected[result.name]
        if unretired and name in _RETIREMENT:
            if name == _RETIREMENT[0]:
                skipped.append(
                    f"{', '.join(_RETIREMENT)}: not compared (no replay was rejected, so the "
                    "target may retire no refresh token, as the declared no rotation says)"
                )
            continue
        if not result.measured:
            skipped.append(f"{name}: not compared ({result.why})")
            continue
        bracket = brackets.get(name)
        precision = bracket.resolution if bracket is not None else 0.0
        if not _agrees(name, result.value, want, precision, lower_bound=result.lower_bound):
            drifts.append(Drift(name, result.value, want))
    return drifts, skipped


def _agrees(
    name: FieldName, found: FieldValue, want: FieldValue, precision: float, *, lower_bound: bool
) -> bool:
    if name in ("grace_seconds", "tolerance_seconds"):
        slack = precision if float(found) > 0 else 0.0
        if lower_bound:
            return float(want) >= float(found) - slack
        return abs(float(found) - float(want)) <= slack + 1e-9
    if name == "generations" and lower_bound:
        return int(want) >= int(found)
    return found == want
