"""Save and load throughput of one large NumPy array through the local datastore.

    python benchmarks/datastore_micro.py [--gib 1] [--root DIR]

Prints GB/s for: ``dd``-style raw write and read of the same number of bytes
(the baseline of DESIGN.md's target, measured in the same run), serialize
alone, save (serialize + hash + write), lazy load, and load + reading every
byte. sha1 of the blob is the floor of a save: hashing runs beside the write,
but no faster than one core hashes. Page cache is warm for reads, as it is when a task reads what the
previous one wrote. Figures, not assertions: nothing here is run by the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grange.datastore import ContentAddressedStore, LocalBlobStore, serialize


def measure(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def raw_write(path: Path, data: memoryview, block: int = 1 << 20, sync: bool = False) -> None:
    with open(path, "wb", buffering=0) as f:
        for i in range(0, len(data), block):
            f.write(data[i : i + block])
        if sync:
            os.fsync(f.fileno())


def raw_read(path: Path, block: int = 1 << 20) -> None:
    buf = bytearray(block)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def one_round(array: np.ndarray, root: Path) -> dict[str, float]:
    """Every measurement once, in a fresh directory (so nothing is deduplicated)."""
    data = memoryview(array).cast("B")  # type: ignore[arg-type]
    times: dict[str, float] = {}
    raw = root / "raw.bin"
    times["raw write (dd-like, 1 MiB blocks)"], _ = measure(lambda: raw_write(raw, data))
    times["raw read (warm cache)"], _ = measure(lambda: raw_read(raw))
    raw.unlink()
    times["raw write + fsync (disk)"], _ = measure(lambda: raw_write(raw, data, sync=True))
    raw.unlink()
    times["serialize + sha1"], _ = measure(lambda: serialize(array).key)
    cas = ContentAddressedStore(LocalBlobStore(root / "store"), "BenchFlow")
    times["save (serialize + sha1 + write)"], ref = measure(lambda: cas.save(array))
    key = ref.key  # type: ignore[attr-defined]
    times["save again (deduplicated)"], _ = measure(lambda: cas.save(array))
    times["load (lazy, zero-copy)"], loaded = measure(lambda: cas.load(key))
    times["load + read every byte"], _ = measure(lambda: float(np.asarray(cas.load(key)).sum()))
    assert np.array_equal(loaded, array)  # type: ignore[arg-type]
    del loaded
    shutil.rmtree(root / "store")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="array size in GiB")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    parser.add_argument("--root", default=None, help="directory to write in (default: a temp dir)")
    args = parser.parse_args()

    nbytes = int(args.gib * (1 << 30)) // 8 * 8
    array = np.random.default_rng(0).random(nbytes // 8)
    root = Path(tempfile.mkdtemp(prefix="grange-bench-", dir=args.root))
    print(f"array: {nbytes / (1 << 30):.2f} GiB float64 in {root}, {os.cpu_count()} CPUs")
    rounds = []
    try:
        for _ in range(args.repeat):
            rounds.append(one_round(array, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'':<34} {'median':>8} {'best':>8}   (over {args.repeat} rounds)")
    for label in rounds[0]:
        seconds = sorted(r[label] for r in rounds)
        median, best = seconds[len(seconds) // 2], seconds[0]
        print(f"{label:<34} {nbytes / median / 1e9:6.2f} GB/s {nbytes / best / 1e9:6.2f} GB/s")
    save = statistics.median(r["save (serialize + sha1 + write)"] for r in rounds)
    load = statistics.median(r["load + read every byte"] for r in rounds)
    raw = statistics.median(
        r["raw write (dd-like, 1 MiB blocks)"] + r["raw read (warm cache)"] for r in rounds
    )
    disk = statistics.median(
        r["raw write + fsync (disk)"] + r["raw read (warm cache)"] for r in rounds
    )
    print(f"save + load (read every byte) take {(save + load) / raw:.2f}x the time of a raw")
    print(f"write + read to the page cache, {(save + load) / disk:.2f}x that of a raw write")
    print("+ fsync + read (grange does not fsync; see LocalBlobStore).")


if __name__ == "__main__":
    main()
