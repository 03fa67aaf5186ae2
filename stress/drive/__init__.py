"""Driving a run: the network half of the tester.

A :class:`Driver` interprets a scenario against a target and leaves a history on disk; nothing
here judges it. Its parts, each with one job:

- ``recorder``: the single writer of ops and process ids, and the run's op budget;
- ``session``: what one simulated user holds (raw tokens live only there);
- ``logins``: first pairs, by password or by a mint command;
- ``actions``: single requests, retries as a Retry-After says, a lost response and its retry;
- ``profiles``: how a client profile turns callers into requests and which answer it keeps;
- ``bursts``: synchronised bursts of refreshes and replays;
- ``load``: sustained closed- or open-model traffic;
- ``probes``: the final probes of every leaf once the run is quiet;
- ``driver``: the run's life (sessions, bounds, signals, the run-end record).
"""

from __future__ import annotations

from stress.drive.driver import Driver, planned_ops
from stress.drive.recorder import ProgressCallback

__all__ = ["Driver", "ProgressCallback", "planned_ops"]
