"""Small OAuth 2.0 authorization servers, each modelling how one kind of real server answers
concurrent and repeated refreshes of one refresh token.

They are written for the tests and know nothing of the tester: they prove its verdicts on
servers that are not the reference server. Each is one process with in-memory state (Starlette
on granian, 127.0.0.1), the same HTTP surface (``surface``), and one refresh policy (one module
each). Every refresh that writes (a rotation, a sibling, an access token, a revocation) awaits
a simulated database round trip between its read and its write (``--db-latency``), so that
concurrency matters; the correct behaviours hold the family's row lock across it,
``last-write-wins`` does not. Where the outcome of a burst depends on its requests overlapping
(``strict-same-pair``, ``last-write-wins``), a test that needs that outcome for certain runs the
target with a round trip far longer than the burst's spread (e.g. ``--db-latency 0.25``).

========================  ========================================  ================================
behaviour                 policy it promises                        real servers like it
========================  ========================================  ================================
strict-revoke-family      strict; a replay is rejected; reuse       node oidc-provider; Okta, Auth0,
                          revokes the family. A burst: one winner,  Ory Hydra with leeway 0
                          the family revoked (logged out by own
                          tabs)
strict-same-pair          strict; a replay is rejected; reuse       django-oauth-toolkit without a
                          revokes the family. A burst: one          grace period
                          identical pair for all, the family alive
strict-tolerant           strict; a replay is rejected; the         single-use servers that spare
                          predecessor within ``--grace`` is         late-stamped tabs; the reference
                          refused, later reuse revokes the family.  server with ``--grace 0``
                          A burst: one winner, the family alive
idempotent                idempotent, same pair, 1 generation,      django-oauth-toolkit's grace
                          ``--grace``; reuse revokes what           period; Supabase's parent rule
                          ``--reuse-revokes`` says
overlap                   overlap, new pair, 1 generation,          Auth0 rotation overlap; Ory
                          ``--grace``; reuse revokes the family     Hydra graceful refresh;
                          (``--reuse-revokes``); ``--replays N``:   Keycloak's Refresh Token Max
                          at most N replays                         Reuse
access-only               in-window replay gets an access token     servers answering a replay as a
                          only, 1 generation, ``--grace``; reuse    plain access refresh
                          revokes the family
generations               same pair up to ``--generations`` back,   Supabase's refresh-token
                          ``--grace``; reuse revokes the family     algorithm v2
last-write-wins           promises strict (no reuse detection); a   unlocked compare-and-overwrite
                          burst gives dead successors               of one token column
revoke-access-on-refresh  as idempotent, and every rotation         django-oauth-toolkit; Ory Hydra
                          revokes the current access token
reissue                   no rotation: every refresh token stays    Keycloak's default
                          valid
revoke-on-use             new pair until a successor's access       Doorkeeper (previous_refresh_
                          token is used, which retires only the     token column)
                          token presented; reuse revokes nothing.
                          A burst: N live siblings for good (fork)
revoke-on-use-siblings    the same, and the first use retires       Doorkeeper done right
                          every other sibling too
========================  ========================================  ================================

Each module's docstring says what the real servers do and how the model differs.

Run: ``python -m tests.targets.oauth_behaviours --behaviour NAME --port PORT [--grace SECONDS]
[--generations N] [--reuse-revokes family|user|nothing] [--db-latency SECONDS]
[--signing-key-rotates-after N] [--waf-every N]``; an option a behaviour does not use is an
error. ``--waf-every N`` puts a firewall in front that answers every N-th refresh itself with
an HTML 403, as a WAF blocking part of a burst does. Access tokens are opaque unless
``--signing-key-rotates-after`` makes them JWTs (``signing``).
"""
