"""Tray icons drawn with Pillow: colour and shape both tell the state.

pass      green circle with a check mark
nudge     yellow (amber) triangle with "!"
fail      red octagon (a stop sign) with a white cross
unknown   grey circle with "?"
checking  grey disc with three white dots (apart even at 22 px)

Each shape has a dark outline and a light glyph, so it reads on light and dark
bars; it is drawn at 4x and scaled down for crisp edges at 16-32 px.
"""
from __future__ import annotations

import math

from PIL import Image, ImageDraw

STATES = ("pass", "nudge", "fail", "unknown", "checking")
COLORS = {
    "pass": (30, 150, 60),
    "nudge": (245, 180, 0),
    "fail": (215, 35, 35),
    "unknown": (125, 132, 140),
    "checking": (125, 132, 140),
}
OUTLINE = (20, 22, 26)
GLYPH = (255, 255, 255)
GLYPH_ON_YELLOW = (25, 25, 25)
SCALE = 4


def _octagon(cx, cy, r):
    return [(cx + r * math.cos(math.radians(22.5 + 45 * i)), cy + r * math.sin(math.radians(22.5 + 45 * i)))
            for i in range(8)]


def draw_icon(state: str, size: int = 64) -> Image.Image:
    """An RGBA image of ``size`` x ``size`` for ``state`` (unknown states draw as unknown)."""
    state = state if state in STATES else "unknown"
    n = size * SCALE
    img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    color = COLORS[state]
    c = n / 2
    edge = max(SCALE, round(n * 0.045))          # outline width
    w = max(SCALE * 2, round(n * 0.11))          # glyph stroke width

    if state == "pass":
        r = n * 0.46
        d.ellipse((c - r, c - r, c + r, c + r), fill=color, outline=OUTLINE, width=edge)
        pts = [(n * 0.29, n * 0.52), (n * 0.44, n * 0.67), (n * 0.72, n * 0.36)]
        d.line(pts, fill=GLYPH, width=w, joint="curve")
        for p in (pts[0], pts[2]):
            d.ellipse((p[0] - w / 2, p[1] - w / 2, p[0] + w / 2, p[1] + w / 2), fill=GLYPH)
    elif state == "nudge":
        top, bottom, left, right = n * 0.05, n * 0.93, n * 0.02, n * 0.98
        d.polygon([(c, top), (right, bottom), (left, bottom)], fill=color, outline=OUTLINE, width=edge)
        d.rounded_rectangle((c - w / 2, n * 0.33, c + w / 2, n * 0.66), radius=w / 2, fill=GLYPH_ON_YELLOW)
        d.ellipse((c - w * 0.6, n * 0.72, c + w * 0.6, n * 0.72 + w * 1.2), fill=GLYPH_ON_YELLOW)
    elif state == "fail":
        d.polygon(_octagon(c, c, n * 0.49), fill=color, outline=OUTLINE, width=edge)
        a = n * 0.19
        d.line([(c - a, c - a), (c + a, c + a)], fill=GLYPH, width=w)
        d.line([(c - a, c + a), (c + a, c - a)], fill=GLYPH, width=w)
    elif state == "unknown":
        r = n * 0.46
        d.ellipse((c - r, c - r, c + r, c + r), fill=color, outline=OUTLINE, width=edge)
        # a question mark: an arc, a stem and a dot
        ar = n * 0.15
        d.arc((c - ar, n * 0.2, c + ar, n * 0.2 + 2 * ar), start=180, end=90, fill=GLYPH, width=w)
        d.line([(c, n * 0.2 + 2 * ar - w / 2), (c, n * 0.62)], fill=GLYPH, width=w)
        d.ellipse((c - w * 0.6, n * 0.7, c + w * 0.6, n * 0.7 + w * 1.2), fill=GLYPH)
    else:  # checking: a grey disc with three white dots and clear gaps between them
        r = n * 0.46
        d.ellipse((c - r, c - r, c + r, c + r), fill=color, outline=OUTLINE, width=edge)
        dot = n * 0.08                           # radius: 3.5 px across at 22 px
        for dx in (-0.26, 0.0, 0.26):            # centres 5.7 px apart at 22 px: 2 px of grey between
            x = c + dx * n
            d.ellipse((x - dot, c - dot, x + dot, c + dot), fill=GLYPH)
    return img.resize((size, size), Image.LANCZOS)


def save_icon_png(state: str, path: str, size: int = 64) -> str:
    draw_icon(state, size).save(path, "PNG")
    return path
