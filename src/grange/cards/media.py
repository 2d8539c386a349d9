"""Card components that show pictures: ``Image`` and ``VegaChart``.

As in Metaflow, an image that is not one (HTML bytes, SVG, a file past the
size cap, a value of another type) does not raise when the ``Image`` is made:
the card shows an error box in its place.
"""

from __future__ import annotations

import json
from typing import Any

from grange.cards import charts
from grange.cards._limits import describe_exception, type_name
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
        self._src: str | None = None
        self._problem: str | None = None
        self._label = label
        if src is not None:
            self._set(lambda: src, "Image(src=...)")
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    def _set(self, make: Any, where: str) -> None:
        """Keep the data: URI of ``make()``'s image, or the reason there is none."""
        try:
            self._src, self._problem = image_data_uri(make(), where), None
        except Exception as exc:  # shown on the card, as Metaflow does
            self._src, self._problem = None, describe_exception(exc)

    @classmethod
    def from_pil_image(
        cls, pilimage: Any, label: str | None = None, disable_updates: bool = False
    ) -> Image:
        """An image of a PIL image (saved as PNG)."""
        image = cls(label=label, disable_updates=disable_updates)
        image._set(lambda: image_from_pil(pilimage), "Image.from_pil_image()")
        return image

    @classmethod
    def from_matplotlib(
        cls, plot: Any, label: str | None = None, disable_updates: bool = False
    ) -> Image:
        """An image of a matplotlib Figure or Axes (saved as PNG)."""
        image = cls(label=label, disable_updates=disable_updates)
        image._set(lambda: image_from_matplotlib(plot), "Image.from_matplotlib()")
        return image

    def update(self, image: Any, label: str | None = None) -> None:
        """Show another image: bytes, base64 text, a PIL image or a matplotlib figure."""
        if not self.REALTIME_UPDATABLE:
            import warnings

            warnings.warn("Image(disable_updates=True) cannot be updated", stacklevel=2)
            return

        def make() -> Any:
            if isinstance(image, (bytes, bytearray, memoryview, str)):
                return image
            if type_name(image).startswith("PIL."):
                return image_from_pil(image)
            return image_from_matplotlib(image)

        self._set(make, "Image.update(image=...)")
        if label is not None:
            self._label = label

    def render(self) -> dict[str, Any]:
        _check_str("Image", "label", self._label)
        if self._problem is not None:
            return error_dict(f"This image cannot be shown: {self._problem}")
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
        self._spec: Any = spec
        self._show_controls = bool(show_controls)
        self._chart_inside_table = False  # set by Table, as Metaflow's

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
            self._spec = spec

    def render(self) -> dict[str, Any]:
        spec = self._spec_of(self._spec, "VegaChart(spec=...)")
        spec = charts.clean_spec(json.loads(json.dumps(spec, default=_not_json)))
        if self._chart_inside_table:
            # A "container" width in a cell sized by its content collapses the chart.
            spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
        elif "width" not in spec:
            spec["width"] = "container"
        return self._dict(spec=spec, show_controls=self._show_controls)


def _not_json(value: Any) -> Any:
    raise TypeError(f"the chart spec holds a {type_name(value)}, which is not JSON")
