"""Image bytes for cards: format sniffing, data: URIs, PIL and matplotlib."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from grange.cards._limits import MAX_IMAGE_BYTES, type_name

_DATA_URI = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}$")


def sniff(data: bytes) -> str | None:
    """The image format of ``data`` from its first bytes (png, jpeg, gif, webp), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_data_uri(src: Any, where: str) -> str:
    """A ``data:image/...;base64,`` URI of image bytes or of their base64 text.

    Raises ValueError/TypeError naming ``where`` when ``src`` is not an image.
    """
    if isinstance(src, str):
        text = src.strip()
        if text.startswith("data:"):
            text = text.split(",", 1)[-1]
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where} is a str that is not base64 image data") from None
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    else:
        raise TypeError(f"{where} must be PNG/JPEG/GIF/WebP bytes, not {type_name(src)}")
    kind = sniff(data)
    if kind is None:
        raise ValueError(f"{where} is not a PNG, JPEG, GIF or WebP image ({len(data)} bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(
            f"{where} is {len(data):,} bytes; a card image may be at most "
            f"{MAX_IMAGE_BYTES:,}: save it smaller (lower dpi or size)"
        )
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def is_image_data_uri(text: Any) -> bool:
    """Whether ``text`` is a data: URI of an image in base64 (what the renderer accepts)."""
    return isinstance(text, str) and bool(_DATA_URI.fullmatch(text))


def image_from_pil(image: Any) -> bytes:
    """PNG bytes of a PIL image."""
    if not callable(getattr(image, "save", None)) or not type_name(image).startswith("PIL."):
        raise TypeError(f"Image.from_pil_image() needs a PIL image, not {type_name(image)}")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def image_from_matplotlib(plot: Any) -> bytes:
    """PNG bytes of a matplotlib Figure (or of the figure of an Axes)."""
    figure = plot if callable(getattr(plot, "savefig", None)) else getattr(plot, "figure", None)
    if figure is None or not callable(getattr(figure, "savefig", None)):
        raise TypeError(
            f"Image.from_matplotlib() needs a matplotlib Figure or Axes, not {type_name(plot)}"
        )
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
