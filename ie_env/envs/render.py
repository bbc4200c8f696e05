"""Pictures and text lines of an environment step: the ``rgb_array`` and ``ansi`` render modes.

:func:`render_rgb` draws the last query, a grid of the images it returned (each framed in a colour showing its
reward, on a red-yellow-green scale from 0 to 1; images seen at an earlier step dimmed) and the episode's running
counts. Every frame of one environment has the same size, so frames can be written as a video.
:func:`render_ansi` gives the same step as one line of text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLUMNS = 8
"""Images per row of the grid."""
MAX_TILES = 32
"""Images shown at most (the answer's first ones, in rank order)."""
TILE = 64
"""Side in pixels each image is drawn at (small images are enlarged without smoothing)."""
BORDER = 4
"""Width of the reward-coloured frame around each image."""
GAP = 6
HEADER = 50
LABEL = 15
FOOTER = 26
SCALE = ((0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80)))
"""Reward -> frame colour stops (red, yellow, green)."""


@dataclass
class StepView:
    """What one step showed: the query, its images and the episode's running counts."""

    step: int
    """Steps taken so far in the episode."""
    budget: int
    """Steps of the episode."""
    query: str = ""
    """The last query text ("" before the first step)."""
    reward: float = 0.0
    """The last query's reward."""
    results: int = 0
    """Results in the last answer."""
    new_images: int = 0
    """Images of the last answer never seen before in the episode."""
    images: list = field(default_factory=list)
    """The answer's first images, ``(H, W, 3)`` uint8 each, in rank order; ``None`` where the pixels are unknown."""
    image_rewards: list = field(default_factory=list)
    """The reward of each image in :attr:`images`."""
    image_new: list = field(default_factory=list)
    """Whether each image in :attr:`images` was new at this step."""
    distinct_images: int = 0
    """Distinct images found in the episode."""
    relevant_images: int = 0
    """Distinct relevant images found (ground truth; measurement only)."""
    relevant_classes: int = 0
    """Distinct relevant classes found (ground truth; measurement only)."""
    mean_reward: float = 0.0
    """Mean query reward of the episode."""
    iteration: int = 0
    """Iterations completed."""
    knn_accuracy: float = 0.0
    """Last kNN accuracy on the target (full mode)."""


def reward_colour(r: float) -> tuple[int, int, int]:
    """The frame colour of a reward (clipped to [0, 1])."""
    r = min(1.0, max(0.0, float(r)))
    for (x0, c0), (x1, c1) in zip(SCALE, SCALE[1:]):
        if r <= x1:
            t = (r - x0) / (x1 - x0)
            return tuple(int(round(a + t * (b - a))) for a, b in zip(c0, c1))
    return SCALE[-1][1]


def frame_size(max_images: int) -> tuple[int, int]:
    """``(height, width)`` of every frame of an env whose answers hold up to ``max_images`` images."""
    rows = max(1, -(-min(max_images, MAX_TILES) // COLUMNS))
    cell = TILE + 2 * BORDER
    return HEADER + rows * (cell + LABEL + GAP) + FOOTER, COLUMNS * (cell + GAP) + GAP


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _headline(v: StepView) -> str:
    if not v.query:
        return f"step 0/{v.budget}: no query yet"
    return f"step {v.step}/{v.budget} | query \"{v.query}\" | reward {v.reward:.3f} | new {v.new_images}/{v.results}"


def _counts(v: StepView) -> str:
    share = v.relevant_images / max(1, v.distinct_images)
    text = (f"distinct images {v.distinct_images} | relevant {v.relevant_images} ({share:.1%}) | "
            f"classes {v.relevant_classes} | mean reward {v.mean_reward:.3f} | iteration {v.iteration}")
    return text + (f" | kNN accuracy {v.knn_accuracy:.3f}" if v.knn_accuracy else "")


def render_ansi(v: StepView) -> str:
    """The step as one line of text."""
    return f"{_headline(v)} | {_counts(v)}"


def render_rgb(v: StepView, max_images: int) -> np.ndarray:
    """The step as an ``(H, W, 3)`` uint8 picture, of the size :func:`frame_size` gives for ``max_images``."""
    height, width = frame_size(max_images)
    canvas = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    big, small = _font(15), _font(11)
    draw.text((GAP, 6), _fit(draw, _headline(v), big, width - 2 * GAP), fill=(20, 20, 20), font=big)
    draw.text((GAP, 28), _fit(draw, _counts(v), small, width - 2 * GAP), fill=(70, 70, 70), font=small)
    cell = TILE + 2 * BORDER
    shown = min(len(v.images), MAX_TILES)
    for j in range(shown):
        x = GAP + (j % COLUMNS) * (cell + GAP)
        y = HEADER + (j // COLUMNS) * (cell + LABEL + GAP)
        draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=reward_colour(v.image_rewards[j]))
        pixels = v.images[j]
        if pixels is None:
            tile = Image.new("RGB", (TILE, TILE), (200, 200, 200))
        else:
            tile = Image.fromarray(np.asarray(pixels, np.uint8)).resize((TILE, TILE), Image.NEAREST)
        if not v.image_new[j]:
            tile = Image.blend(tile, Image.new("RGB", tile.size, (235, 235, 235)), 0.6)
        canvas.paste(tile, (x + BORDER, y + BORDER))
        label = f"{v.image_rewards[j]:.2f}" + ("" if v.image_new[j] else " seen")
        draw.text((x + 2, y + cell + 1), label, fill=(40, 40, 40), font=small)
    _legend(draw, small, height - FOOTER + 6, width)
    if v.results > shown:
        note = f"first {shown} of {v.results} results"
        draw.text((width - GAP - draw.textlength(note, font=small), height - FOOTER + 6), note, fill=(90, 90, 90),
                  font=small)
    return np.asarray(canvas, np.uint8)


def _legend(draw: ImageDraw.ImageDraw, font, y: int, width: int) -> None:
    """The reward colour scale along the bottom edge."""
    x0 = GAP + 132
    bar = min(240, width - x0 - 200)
    draw.text((GAP, y), "frame = image reward:", fill=(60, 60, 60), font=font)
    for i in range(bar):
        draw.line((x0 + i, y + 2, x0 + i, y + 12), fill=reward_colour(i / (bar - 1)))
    draw.text((x0 - 10, y), "0", fill=(20, 20, 20), font=font)
    draw.text((x0 + bar + 4, y), "1", fill=(20, 20, 20), font=font)
