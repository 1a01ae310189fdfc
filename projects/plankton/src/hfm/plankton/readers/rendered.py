"""Recovering an image that was saved as a matplotlib figure (axes, tick labels, white grid lines drawn over it).

The Bering Sea set (Cheng et al. 2019, as staged from its starting kit) stores each ~100 x 100 px camera crop as a
640 x 480 RGBA PNG of a matplotlib `imshow` with the seaborn style: the crop is upscaled to fill the axes, tick
labels sit beside it and a white grid crosses it. Training on the figure would teach a model the plot, so the reader
cuts the plotted image out (rows and columns that are mostly grey) and paints over the grid lines from their
neighbours. The render scale is unknown, so the recovered pixels are figure pixels, not camera pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from hfm.plankton.readers.stores import FolderStore
from hfm.shared.errors import InvalidInput

_WHITE = 0.93  # grid lines and figure background are white; plankton images are grey
_FILLED = 0.5  # a row/column belongs to the plotted image when over half of it is non-white (tick text is sparse)


def _runs(flags: np.ndarray) -> tuple[int, int] | None:
    index = np.flatnonzero(flags)
    return (int(index[0]), int(index[-1]) + 1) if index.size else None


def extract_plotted_image(rgb: np.ndarray, name: str = "figure") -> np.ndarray:
    """(H, W, 3) float figure in [0, 1] -> the plotted grey image in [0, 1], grid lines painted over."""
    grey = rgb.mean(axis=2)
    inked = grey < _WHITE
    # Columns first (the image spans the axes' height, tick text does not), then rows within those columns only:
    # across a narrow image the tick labels under it would otherwise look as inked as the image.
    cols = _runs(inked.mean(axis=0) > _FILLED * inked.mean(axis=0).max())
    rows = None
    if cols is not None:
        within = inked[:, cols[0] : cols[1]].mean(axis=1)
        rows = _runs(within > _FILLED * within.max())
    if rows is None or cols is None or rows[1] - rows[0] < 8 or cols[1] - cols[0] < 8:
        raise InvalidInput(f"{name}: no plotted image found in the figure", field="image", code="empty")
    crop = grey[rows[0] : rows[1], cols[0] : cols[1]].copy()
    white = crop >= _WHITE
    # Grid lines: whole rows/columns of white across the plotted image (and the line beside each, anti-aliased);
    # replaced by the nearest line that is not part of the grid.
    for axis in (0, 1):
        line_white = white.mean(axis=1 - axis) > 0.6
        line_white[1:] |= line_white[:-1].copy()  # anti-aliasing lightens the lines' neighbours too
        line_white[:-1] |= line_white[1:].copy()
        keep = np.flatnonzero(~line_white)
        if keep.size == 0:
            raise InvalidInput(f"{name}: the plotted image is blank", field="image", code="empty")
        for index in np.flatnonzero(line_white):
            nearest = keep[np.argmin(np.abs(keep - index))]
            if axis == 0:
                crop[index] = crop[nearest]
            else:
                crop[:, index] = crop[:, nearest]
    return crop


class RenderedFigureStore(FolderStore):
    """Image folder whose files are matplotlib figures; serves the plotted image as an 8-bit grey PNG."""

    def read(self, image_path: str) -> bytes:
        data = super().read(image_path)
        try:
            with Image.open(io.BytesIO(data)) as figure:
                rgb = np.asarray(figure.convert("RGB"), dtype=np.float32) / 255.0
        except OSError as error:
            raise InvalidInput(f"{image_path}: damaged figure ({error})", field="image", code="corrupt") from error
        crop = extract_plotted_image(rgb, image_path)
        buffer = io.BytesIO()
        Image.fromarray(np.round(crop * 255).astype(np.uint8), "L").save(buffer, format="PNG")
        return buffer.getvalue()
