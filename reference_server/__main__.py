"""``python -m reference_server``: run the reference server (see ``cli``)."""

from __future__ import annotations

import sys

from .cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
