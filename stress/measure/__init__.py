"""Measuring a target's refresh-token policy black-box (``auth-stress policy``).

Real servers differ in what they do when a refresh token comes back, and their documentation is
often wrong or silent, so the policy a scenario declares is best measured. The parts:

- ``trials``: the experiments on the wire, each on fresh sessions, recorded as ops;
- ``decide``: each field decided from a trial's recorded ops (pure);
- ``search``: the grace search, in rounds of doublings then of points inside the bracket (pure);
- ``prober``: which trial to run next, given what the earlier ones showed;
- ``runner``: one measurement's life (target, history, bounds, signals);
- ``result``: the measurement, its ``[policy]`` block and its JSON;
- ``drift``: comparing a measured or published policy with a declared one (pure).
"""
