"""Decoding plankton images of any mode and bit depth into grey floats, and fitting them to the model's canvas.

Instruments write 8-bit grey (UVP, ZooScan, IFCB), 8-bit RGB (FlowCam), 16-bit grey (cameras with 12-bit sensors)
or RGBA (cut-outs whose transparent pixels are background). The model sees one grey channel in [0, 1]. Fitting to a
fixed canvas never hides the physical scale: the pixel size of the canvas (um/px) is returned with it and given to
the model as an input, so a 40 um ciliate and a 400 um copepod do not look alike after resizing.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError
from skimage.transform import resize

from hfm.shared.errors import InvalidInput
from hfm.shared.safety.budget import current_budget

FitMode = Literal["pad", "resize"]
# ITU-R BT.601 luma, the weights PIL uses for "L".
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass
class DecodedImage:
    grey: np.ndarray  # (H, W) float32 in [0, 1]
    mode: str  # PIL mode of the file
    bit_depth: int

    def content_hash(self) -> str:
        """sha256 of the pixels (not the file): the same image saved twice, or renamed, hashes the same."""
        quantised = np.round(self.grey * 65535).astype("<u2")
        return hashlib.sha256(np.asarray(quantised.shape, "<u4").tobytes() + quantised.tobytes()).hexdigest()


def _bit_depth(image: Image.Image) -> int:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return 16
    if image.mode in ("I", "F"):
        return 32
    return 1 if image.mode == "1" else 8


def decode_image(data: bytes, name: str = "image") -> DecodedImage:
    """Bytes of any Pillow-readable file -> grey [0, 1]; InvalidInput for corrupt, truncated or empty images."""
    budget = current_budget()
    Image.MAX_IMAGE_PIXELS = budget.max_image_pixels  # Pillow's own bomb check, at the shared budget
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            budget.check_pixels(image.width, image.height, name)  # before a single pixel is decoded
            image.load()  # decodes now: a truncated file fails here rather than later
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        reason = f"{name}: decompression bomb ({error}); raise HFM_MAX_IMAGE_PIXELS to accept it"
        raise InvalidInput(reason, field="image", code="too_large") from error
    except UnidentifiedImageError as error:
        raise InvalidInput(f"{name}: not an image format Pillow reads", field="image", code="corrupt") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidInput(f"{name}: damaged or truncated image ({error})", field="image", code="truncated") from error
    mode, depth = image.mode, _bit_depth(image)
    if image.width == 0 or image.height == 0:
        raise InvalidInput(f"{name}: image has no pixels", field="image", code="empty")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        grey = np.asarray(image, dtype=np.float64) / 65535.0
    elif mode == "I":
        values = np.asarray(image, dtype=np.float64)
        grey = values / (65535.0 if values.max() <= 65535 else 4294967295.0)
    elif mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    elif image.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        luma, alpha = rgba[..., :3] @ _LUMA, rgba[..., 3]
        background = _border_median(luma, alpha > 0.5)
        grey = alpha * luma + (1.0 - alpha) * background
    elif image.mode in ("L", "1"):
        grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    else:
        grey = (np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0) @ _LUMA
    grey = grey.astype(np.float32)
    if float(grey.max() - grey.min()) < 1.0 / 255.0:
        raise InvalidInput(f"{name}: uniform image ({grey.shape[1]}x{grey.shape[0]}), no object", "image", "empty")
    return DecodedImage(grey=grey, mode=mode, bit_depth=depth)


def _border_median(grey: np.ndarray, valid: np.ndarray | None = None) -> float:
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if valid is not None:
        keep = np.concatenate([valid[0], valid[-1], valid[:, 0], valid[:, -1]])
        border = border[keep] if keep.any() else grey[valid] if valid.any() else np.ones(1)
    return float(np.median(border))


def background_level(grey: np.ndarray) -> float:
    """The background grey level: the median of the image border (plankton images are cut around one object)."""
    return _border_median(grey)


def fit_canvas(grey: np.ndarray, pixel_size_um: float, canvas: int, mode: FitMode = "pad") -> tuple[np.ndarray, float]:
    """Place an image on a `canvas` x `canvas` grid; returns the canvas and its pixel size in um.

    "pad" keeps the original resolution and pads with the background level; only objects larger than the canvas
    are shrunk. "resize" scales every object to fill the canvas. Either way the returned pixel size is exact for the
    canvas, so sizes in micrometres can be read off it.
    """
    height, width = grey.shape
    factor = max(height, width) / canvas
    if mode == "pad":
        factor = max(factor, 1.0)
    if factor != 1.0:
        new_h, new_w = max(1, round(height / factor)), max(1, round(width / factor))
        image = resize(grey, (new_h, new_w), order=1, anti_aliasing=factor > 1, preserve_range=True)
        factor = max(height / new_h, width / new_w)
    else:
        image = grey
    out = np.full((canvas, canvas), background_level(grey), dtype=np.float32)
    top, left = (canvas - image.shape[0]) // 2, (canvas - image.shape[1]) // 2
    out[top : top + image.shape[0], left : left + image.shape[1]] = image
    return out, float(pixel_size_um * factor)
