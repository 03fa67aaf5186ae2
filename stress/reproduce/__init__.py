"""Beyond one run: how often a finding reproduces, the smallest scenario that still shows it,
and a finding's witness sent again.

Races are nondeterministic, so one run's verdict is one sample. Three tools build on the run
pipeline, and every verdict they give is judged from histories, exactly as ``analyze`` would:

- ``repeat``: K independent runs of one scenario; ``tally`` counts per finding class (the id of
  the checker that proved it) how many runs reproduced it, with a Wilson interval;
- ``shrink``: delta debugging of a failing scenario (sessions, burst widths, steps, op counts)
  that keeps a smaller candidate only while the same finding class still reproduces in at least
  one of K reruns; ``reduce`` holds the candidate moves and the TOML writer;
- ``replay``: a finding's witness requests sent again with their recorded offsets and fresh
  tokens (``witness`` plans it from the history, ``replayer`` sends the plan).
"""

from __future__ import annotations

# Each module is imported on its own: the pure ones (tally, reduce, witness, render) must not
# pull in the network half through this package.
__all__: list[str] = []
