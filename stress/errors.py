"""The tester's exception tree, caught in one place: the CLI maps each branch to an exit code.

StressError                 base; never raised itself
├── ScenarioError           a scenario file is unreadable or invalid          -> exit 2
├── HistoryError            a saved history is unreadable or invalid          -> exit 2
├── TargetError             the target cannot be reached or misbehaves so
│                           badly that no verdict is possible                 -> exit 3
└── LaunchError             a child process (Redis, reference server) failed
                            to start                                          -> exit 4
"""

from __future__ import annotations

__all__ = ["HistoryError", "LaunchError", "ScenarioError", "StressError", "TargetError"]


class StressError(Exception):
    """Base of every error the tester reports to its user instead of a traceback."""


class ScenarioError(StressError):
    """A scenario file is missing, not TOML, or does not match the schema.

    The message names the file, the key path, what was expected and what was found.
    """


class HistoryError(StressError):
    """A history file cannot be read back (bad JSON line, unknown record shape)."""


class TargetError(StressError):
    """The target cannot be reached or answers in a way that makes a verdict impossible."""


class LaunchError(StressError):
    """A helper process the tester starts (embedded Redis, reference server) did not come up."""
