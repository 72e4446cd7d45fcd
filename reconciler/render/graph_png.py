"""PNG pictures of plan graphs: Pillow paints the layout `render.graph.layout_graph` computes for
the SVG too, so the two files show the same boxes, curves and labels in the same places.

Pillow is an optional dependency (`pip install 'loopform[graph]'`); `render.graph` imports this
module only when a PNG is asked for. Pillow draws no curves, dashes or arrow heads, so the curve
is sampled into a polyline, dashed by length, and ends in a triangle along its last tangent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

from reconciler.render.graph import ARROW, PALETTE, GraphLayout, Label, Mark, Point

SCALE = 2  # pixels per layout unit: 12-unit text is hard to read at one pixel per unit
FONT_SIZE = 12
INK = "#24292f"
DASH = (5.0, 3.0)  # on, off: the SVG's stroke-dasharray
CURVE_STEPS = 32

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_png(layouts: Sequence[GraphLayout], *, redact: Callable[[str], str] | None = None) -> bytes:
    """One PNG (RGB, white) holding each layout below the previous one. Every string goes
    through `redact` before it is drawn."""
    width = max(layout.width for layout in layouts)
    height = sum(layout.height for layout in layouts)
    image = Image.new("RGB", (_px(width), _px(height)), "white")
    draw = ImageDraw.Draw(image)
    # Pillow >= 10.1 bundles a scalable font, so no system font is needed.
    font = ImageFont.load_default(size=FONT_SIZE * SCALE)
    top = 0.0
    for layout in layouts:
        _paint(draw, layout, top, font, redact or (lambda text: text))
        top += layout.height
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, *, font: Font, fill: str,
              anchor: str, bold: bool) -> None:
    """The one place a PNG's text is drawn; `text` arrives redacted (tests watch this call)."""
    # The bundled font has no bold face: a stroke of the text's own colour thickens it.
    draw.text(xy, text, font=font, fill=fill, anchor=anchor, stroke_width=1 if bold else 0, stroke_fill=fill)


def _paint(draw: ImageDraw.ImageDraw, layout: GraphLayout, top: float, font: Font,
           redact: Callable[[str], str]) -> None:
    def label(lab: Label) -> None:
        draw_text(draw, (_px(lab.x), _px(top + lab.y)), redact(lab.text), font=font, fill=lab.colour or INK,
                  anchor="ms" if lab.middle else "ls", bold=lab.bold)

    label(layout.title)
    for route in layout.routes:
        stroke = PALETTE[route.mark][1]
        points = [(x, y + top) for x, y in _curve(route.start, route.control, route.end)]
        _stroke(draw, points, stroke, 1.5, dashed=route.mark is Mark.REMOVED)
        _arrow_head(draw, route.control, route.end, top, stroke)
        if route.label is not None:
            label(route.label)
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


def _curve(start: Point, control: Point, end: Point) -> list[Point]:
    """The quadratic Bézier curve as a polyline."""
    out = []
    for i in range(CURVE_STEPS + 1):
        t = i / CURVE_STEPS
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        out.append((a * start[0] + b * control[0] + c * end[0], a * start[1] + b * control[1] + c * end[1]))
    return out


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


def _arrow_head(draw: ImageDraw.ImageDraw, control: Point, end: Point, top: float, colour: str) -> None:
    """A filled triangle with its tip at `end`, pointing along the curve's last tangent."""
    dx, dy = end[0] - control[0], end[1] - control[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    bx, by = end[0] - ux * ARROW, end[1] - uy * ARROW
    half = ARROW / 2
    corners = [end, (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
    draw.polygon([(_px(x), _px(y + top)) for x, y in corners], fill=colour)
