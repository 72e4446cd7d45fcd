"""PNG pictures of plan graphs: Pillow paints the layout `render.graph.layout_graph` computes for
the SVG too, so the two files show the same boxes, curves and labels in the same places.

Pillow is an optional dependency (`pip install 'loopform[graph]'`); `render.graph` imports this
module only when a PNG is asked for. Pillow draws no dashes or arrow heads, so an edge's polyline
is dashed by length and ends in a triangle along its last segment.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

from reconciler.render.picture import ARROW, GROUP_FILL, GROUP_STROKE, PALETTE, GraphLayout, Label, Mark, Point

SCALE = 2  # pixels per layout unit: 12-unit text is hard to read at one pixel per unit
INK = "#24292f"
DASH = (5.0, 3.0)  # on, off: the SVG's stroke-dasharray

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_png(layouts: Sequence[GraphLayout], *, redact: Callable[[str], str] | None = None) -> bytes:
    """One PNG (RGB, white) holding each layout below the previous one. Every string goes
    through `redact` before it is drawn."""
    width = max(layout.width for layout in layouts)
    height = sum(layout.height for layout in layouts)
    image = Image.new("RGB", (_px(width), _px(height)), "white")
    draw = ImageDraw.Draw(image)
    top = 0.0
    for layout in layouts:
        _paint(draw, layout, top, redact or (lambda text: text))
        top += layout.height
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@functools.cache
def _font(size: float) -> Font:
    # Pillow >= 10.1 bundles a scalable font, so no system font is needed.
    return ImageFont.load_default(size=round(size * SCALE))


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, *, font: Font, fill: str,
              anchor: str, bold: bool, halo: bool = False) -> None:
    """The one place a PNG's text is drawn; `text` arrives redacted (tests watch this call)."""
    if halo:  # a white outline: the edges under an edge label do not show through it
        draw.text(xy, text, font=font, fill=fill, anchor=anchor, stroke_width=2 * SCALE, stroke_fill="white")
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)
    if bold:
        # The bundled font has no bold face: the text again one pixel to the right thickens its
        # strokes and keeps the letters apart (a stroke of the text's colour smudges small type).
        draw.text((xy[0] + 1, xy[1]), text, font=font, fill=fill, anchor=anchor)


def _paint(draw: ImageDraw.ImageDraw, layout: GraphLayout, top: float, redact: Callable[[str], str]) -> None:
    def label(lab: Label) -> None:
        draw_text(draw, (_px(lab.x), _px(top + lab.y)), redact(lab.text), font=_font(lab.size),
                  fill=lab.colour or INK, anchor="ms" if lab.middle else "ls", bold=lab.bold, halo=lab.halo)

    label(layout.title)
    for group in layout.groups:  # behind everything, outer ones first
        x, y = group.x, group.y + top
        draw.rounded_rectangle((_px(x), _px(y), _px(x + group.width), _px(y + group.height)), radius=8 * SCALE,
                               fill=GROUP_FILL)
        _stroke(draw, _rounded_outline(x, y, group.width, group.height, 8), GROUP_STROKE, 1, dashed=True)
    for route in layout.routes:
        stroke = PALETTE[route.mark][1]
        points = [(x, y + top) for x, y in route.points]
        _stroke(draw, points, stroke, 1.5, dashed=route.mark is Mark.REMOVED)
        _arrow_head(draw, route.points[-2], route.points[-1], top, stroke)
    for route in layout.routes:  # after every edge, as in the SVG
        if route.label is not None:
            label(route.label)
    for group in layout.groups:
        label(group.label)
    for box in layout.boxes:
        fill, stroke = PALETTE[box.mark]
        x, y = box.x, box.y + top
        draw.rounded_rectangle((_px(x), _px(y), _px(x + box.width), _px(y + box.height)), radius=6 * SCALE,
                               fill=fill, outline=None if box.mark is Mark.REMOVED else stroke, width=SCALE)
        if box.mark is Mark.REMOVED:
            _stroke(draw, _rounded_outline(x, y, box.width, box.height, 6), stroke, 1, dashed=True)
        label(box.name)
        label(box.kind)


def _px(value: float) -> int:
    return round(value * SCALE)


def _rounded_outline(x: float, y: float, w: float, h: float, r: float) -> list[Point]:
    """A rounded rectangle's border as a closed polyline (clockwise from the top left)."""
    corners = ((x + w - r, y + r, -90), (x + w - r, y + h - r, 0), (x + r, y + h - r, 90), (x + r, y + r, 180))
    out = [(cx + r * math.cos(math.radians(a0 + d)), cy + r * math.sin(math.radians(a0 + d)))
           for cx, cy, a0 in corners for d in range(0, 91, 15)]
    return out + out[:1]


def _stroke(draw: ImageDraw.ImageDraw, points: list[Point], colour: str, width: float, *, dashed: bool) -> None:
    for run in (_dashes(points) if dashed else [points]):
        draw.line([(_px(x), _px(y)) for x, y in run], fill=colour, width=max(1, round(width * SCALE)), joint="curve")


def _dashes(points: list[Point]) -> list[list[Point]]:
    """The polyline cut into DASH-long runs with DASH-long gaps between them."""
    on, off = DASH
    runs: list[list[Point]] = []
    run: list[Point] | None = [points[0]]
    left = on  # length left in the current dash (run is not None) or gap (run is None)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        seg, done = math.hypot(x1 - x0, y1 - y0), 0.0
        while seg - done > left:
            done += left
            cut = (x0 + (x1 - x0) * done / seg, y0 + (y1 - y0) * done / seg)
            if run is not None:
                runs.append(run + [cut])
                run, left = None, off
            else:
                run, left = [cut], on
        left -= seg - done
        if run is not None:
            run.append((x1, y1))
    if run is not None and len(run) > 1:
        runs.append(run)
    return runs


def _arrow_head(draw: ImageDraw.ImageDraw, before: Point, end: Point, top: float, colour: str) -> None:
    """A filled triangle with its tip at `end`, pointing along the segment from `before`."""
    dx, dy = end[0] - before[0], end[1] - before[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    bx, by = end[0] - ux * ARROW, end[1] - uy * ARROW
    half = ARROW / 2
    corners = [end, (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
    draw.polygon([(_px(x), _px(y + top)) for x, y in corners], fill=colour)
