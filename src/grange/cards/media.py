"""Card components that show pictures: ``Image`` and ``VegaChart``."""

from __future__ import annotations

import json
from typing import Any

from grange.cards._limits import type_name
from grange.cards.components import CardComponent, _check_str, error_dict
from grange.cards.images import image_data_uri, image_from_matplotlib, image_from_pil


class Image(CardComponent):
    """An image from PNG/JPEG/GIF/WebP bytes (or their base64 text), shown inline.

    As in Metaflow, an ``Image`` made from bytes cannot be updated unless
    ``disable_updates=False``; one from ``from_pil_image``/``from_matplotlib`` can.
    """

    type = "image"
    REALTIME_UPDATABLE = True

    def __init__(
        self,
        src: bytes | str | None = None,
        label: str | None = None,
        disable_updates: bool = True,
    ) -> None:
        _check_str("Image", "label", label)
        self._src = image_data_uri(src, "Image(src=...)") if src is not None else None
        self._label = label
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    @classmethod
    def from_pil_image(
        cls, pilimage: Any, label: str | None = None, disable_updates: bool = False
    ) -> Image:
        """An image of a PIL image (saved as PNG)."""
        return cls(image_from_pil(pilimage), label=label, disable_updates=disable_updates)

    @classmethod
    def from_matplotlib(
        cls, plot: Any, label: str | None = None, disable_updates: bool = False
    ) -> Image:
        """An image of a matplotlib Figure or Axes (saved as PNG)."""
        return cls(image_from_matplotlib(plot), label=label, disable_updates=disable_updates)

    def update(self, image: Any, label: str | None = None) -> None:
        """Show another image: bytes, base64 text, a PIL image or a matplotlib figure."""
        if not self.REALTIME_UPDATABLE:
            import warnings

            warnings.warn("Image(disable_updates=True) cannot be updated", stacklevel=2)
            return
        _check_str("Image", "label", label)
        if isinstance(image, (bytes, bytearray, str)):
            data: bytes | str = image if isinstance(image, str) else bytes(image)
        elif type_name(image).startswith("PIL."):
            data = image_from_pil(image)
        else:
            data = image_from_matplotlib(image)
        self._src = image_data_uri(data, "Image.update(image=...)")
        if label is not None:
            self._label = label

    def render(self) -> dict[str, Any]:
        if self._src is None:
            return error_dict("Image(src=...) is None: give the image's bytes")
        return self._dict(src=self._src, label=self._label)


def _is_altair(value: Any) -> bool:
    name = type_name(value)
    return name.startswith("altair.") and callable(getattr(value, "to_dict", None))


class VegaChart(CardComponent):
    """A Vega-Lite chart from its spec (a dict) or an Altair chart."""

    type = "vega"
    REALTIME_UPDATABLE = True

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self._spec = self._spec_of(spec, "VegaChart(spec=...)")
        self._show_controls = bool(show_controls)

    @staticmethod
    def _spec_of(spec: Any, where: str) -> dict[str, Any]:
        if _is_altair(spec):
            spec = spec.to_dict()
        if not isinstance(spec, dict):
            raise TypeError(
                f"{where} must be a Vega-Lite spec (a dict) or an Altair chart, "
                f"not {type_name(spec)}"
            )
        return spec

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        """A chart of an Altair chart (its Vega-Lite spec)."""
        if not _is_altair(altair_chart):
            raise TypeError(f"{type_name(altair_chart)} is not an Altair chart")
        return cls(altair_chart.to_dict())

    def update(self, spec: Any = None) -> None:
        if spec is not None:
            self._spec = self._spec_of(spec, "VegaChart.update(spec=...)")

    def render(self) -> dict[str, Any]:
        spec = json.loads(json.dumps(self._spec, default=_not_json))
        if "width" not in spec:
            spec["width"] = "container"
        return self._dict(spec=spec, show_controls=self._show_controls)


def _not_json(value: Any) -> Any:
    raise TypeError(f"the chart spec holds a {type_name(value)}, which is not JSON")
