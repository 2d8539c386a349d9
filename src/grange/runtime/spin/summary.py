"""What ``spin`` prints when the step is done: how it went and the artifacts it left."""

from __future__ import annotations

from grange.datastore import ContentAddressedStore
from grange.runtime.spin.execute import SpinResult

#: Values whose blob is at most this large are shown (a repr, cut); others by type and size.
SHOWN_BYTES = 64 * 1024
WIDTH = 60


def summary_lines(result: SpinResult) -> list[str]:
    """The lines printed after the step: its end, then its artifacts (new or changed first)."""
    record = result.record
    how = "succeeded" if result.ok else "failed"
    head = f"Spin {result.pathspec} {how} in {result.seconds:.2f}s"
    if not result.ok:
        exc = record.exception or {}
        name = str(exc.get("type", "")).rsplit(".", 1)[-1] or "the step"
        message = str(exc.get("message", ""))
        return [f"{head}: {name}: {message}" if message else f"{head}.", *_where(result)]
    lines = [f"{head}."]
    changed, same = [], []
    for name, ref in sorted(record.artifacts.items()):
        if name in result.given:
            changed.append((name, ref.type, "from --artifacts-module"))
        elif name not in result.inputs:
            changed.append((name, ref.type, "new"))
        elif result.inputs[name].key != ref.key:
            changed.append((name, ref.type, "changed"))
        else:
            same.append(name)
    if changed:
        lines.append("Artifacts:")
        width = max(len(n) for n, _, _ in changed)
        kinds = max(len(t) for _, t, _ in changed)
        for name, kind, what in changed:
            value = _shown(result, name)
            lines.append(f"  {name.ljust(width)}  {kind.ljust(kinds)}  {value}  ({what})")
    else:
        lines.append("The step set no artifact.")
    if same:
        shown = ", ".join(same[:8]) + (", ..." if len(same) > 8 else "")
        lines.append(f"  + {len(same)} unchanged from its inputs: {shown}")
    return lines + _where(result)


def _where(result: SpinResult) -> list[str]:
    if result.store is None:
        return ["Nothing was kept (--no-persist)."]
    origin = f"{str(result.origin)!r}" if result.origin is not None else ""
    return [
        f"Kept apart from real runs in {result.store}; read it with: "
        f'grange.inspect_spin({origin}); grange.Task("{result.pathspec}")'
    ]


def _shown(result: SpinResult, name: str) -> str:
    ref = result.record.artifacts[name]
    if ref.size > SHOWN_BYTES or result.blobs is None:
        return f"<{ref.size:,} bytes>"
    try:
        value = ContentAddressedStore(result.blobs, result.record.flow).load(
            ref.key, name=name, task=result.pathspec
        )
        text = repr(value)
    except Exception as err:  # a value this process cannot unpickle or repr: say so
        return f"<not shown: {type(err).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."
