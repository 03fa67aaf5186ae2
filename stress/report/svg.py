"""Small SVG helpers shared by the HTML report's drawings: responsive frames, text that fits.

Every drawing is laid out in a fixed coordinate space (its ``viewBox``) and scaled by the
browser to the width of the page, so nothing is clipped on a narrow screen; on a wide one it
grows a little, never so much that its text outgrows the page's. Text is measured, not hoped
to fit: :func:`fit` cuts a label to the room it has (monospace, so the width of a character is
known) and the full text goes into a ``<title>`` tooltip.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["CHAR_W", "fit", "log_ticks", "nice_ticks", "svg_open", "text"]

# Width of one character of the drawings' 11px monospace font, rounded up.
CHAR_W = 6.8

# How much larger than its natural size a drawing may grow on a wide page: enough to use the
# room, not so much that its text outgrows the page's.
_UPSCALE = 1.3

_E = html.escape


def svg_open(cls: str, width: float, height: float, label: str) -> str:
    """The opening tag of a drawing that scales with the page, up to a little over its
    natural width."""
    return (
        f'<svg class="{_E(cls)}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'style="max-width:{width * _UPSCALE:.0f}px" role="img" aria-label="{_E(label)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    )


def fit(label: str, room_px: float, char_w: float = CHAR_W) -> str:
    """``label`` cut to ``room_px`` with an ellipsis; empty when not even one character fits."""
    chars = int(room_px // char_w)
    if len(label) <= chars:
        return label
    if chars < 2:
        return ""
    return label[: chars - 1] + "\u2026"


def text(
    x: float, y: float, label: str, room_px: float, cls: str = "", anchor: str = "start"
) -> str:
    """A ``<text>`` cut to ``room_px``, with the whole label as its tooltip when it was cut."""
    shown = fit(label, room_px)
    if not shown:
        return ""
    css = f' class="{_E(cls)}"' if cls else ""
    tip = f"<title>{_E(label)}</title>" if shown != label else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css}>{tip}{_E(shown)}</text>'


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2 or 5 times a power of ten) from 0 to at least ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks at 1, 2 and 5 times each power of ten inside ``[low, high]`` (both > 0).

    When the range spans many decades only the powers of ten are kept, so labels never crowd.
    """
    if low <= 0 or high <= 0 or high < low:
        return []
    decades = range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
    mantissas: Sequence[int] = (1,) if len(decades) > 3 else (1, 2, 5)
    ticks = [m * 10.0**d for d in decades for m in mantissas]
    inside = [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
    return inside or [low]
