"""What a plan graph's picture is made of, shared by the graph layout and its two painters (SVG in
`render.graph`, PNG in `render.graph_png`): marks, boxes, routes, labels, in canvas units."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Mark(str, Enum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


BOX_W, BOX_H = 150, 44
ARROW = 10.5  # arrow head length (the SVG marker: 7 units of a 1.5 stroke)
FONT_SIZE, TITLE_SIZE = 12, 15
CHAR_W = 0.62  # a sans-serif character's mean advance, in font sizes (to size labels before drawing)
LABEL_H = 14.0
PALETTE = {Mark.SAME: ("#f6f8fa", "#57606a"), Mark.ADDED: ("#dafbe1", "#1a7f37"),
           Mark.REMOVED: ("#ffebe9", "#cf222e"), Mark.CHANGED: ("#fff8c5", "#9a6700")}  # (fill, stroke)
MUTED = "#57606a"  # a node's type under its name

Point = tuple[float, float]


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    x: float
    y: float  # the baseline
    middle: bool = False  # centred on x (else starting at x)
    bold: bool = False
    colour: str | None = None  # None: the default ink
    size: float = FONT_SIZE
    halo: bool = False  # drawn on a white outline: an edge label stays legible over other edges

    def extent(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) the text covers, estimated from its length."""
        width = len(self.text) * self.size * CHAR_W
        left = self.x - width / 2 if self.middle else self.x
        return left, self.y - self.size, left + width, self.y + self.size * 0.25


class Box(BaseModel):
    """A node: a rounded box with its signed key and its type; removed boxes are dashed."""

    model_config = ConfigDict(frozen=True)

    mark: Mark
    x: float
    y: float
    name: Label
    kind: Label
    width: float = BOX_W
    height: float = BOX_H


class Route(BaseModel):
    """An edge: straight segments through `points` (from the source box's side to the target
    box's side), an arrow head at the last point."""

    model_config = ConfigDict(frozen=True)

    mark: Mark
    points: list[Point]
    label: Label | None = None


class Group(BaseModel):
    """A module instance: a rectangle around its nodes (and its nested instances' rectangles), its
    label in a band along the top that nothing else is placed in."""

    model_config = ConfigDict(frozen=True)

    key: str  # the instance key (`stage`, `stage/first`)
    x: float
    y: float
    width: float
    height: float
    label: Label

    def extent(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.x + self.width, self.y + self.height


GROUP_FILL, GROUP_STROKE, GROUP_INK = "#ddf4ff", "#54aeff", "#0969da"  # a module instance


class GraphLayout(BaseModel):
    """One pipeline's picture in canvas units (origin top left); renderers only draw it."""

    model_config = ConfigDict(frozen=True)

    width: float
    height: float
    title: Label
    boxes: list[Box] = []
    routes: list[Route] = []
    groups: list[Group] = []  # outer instances before the ones nested in them


NO_CHANGES = GraphLayout(width=200, height=40, title=Label(text="No changes.", x=10, y=24))
