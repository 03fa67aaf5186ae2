"""``python -m stress`` runs the same CLI as the ``auth-stress`` script."""

from __future__ import annotations

from stress.cli import main

main()
