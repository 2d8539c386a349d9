"""Peak memory of saving and loading a large array through the local datastore.

Each measurement runs in a fresh interpreter so that ``ru_maxrss`` (the peak
resident set size of the process) reflects only what the script did. The bounds
are ratios of the array size, not timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")

SIZE = 256 << 20  # 256 MiB

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from grange.datastore import ContentAddressedStore, LocalBlobStore

    def peak():
        kib = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib

    size, root, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    cas = ContentAddressedStore(LocalBlobStore(root), "MemFlow")
    if mode == "save":
        before = peak()
        array = np.ones(size // 8)          # every page written: resident
        with_array = peak()
        ref = cas.save(array)
        print(json.dumps({"before": before, "with_array": with_array, "after": peak(),
                          "key": ref.key, "size": ref.size}))
    else:
        before = peak()
        array = cas.load(sys.argv[4])        # lazy: maps the file, reads nothing
        lazy = peak()
        assert array.shape == (size // 8,) and array[-1] == 1.0
        print(json.dumps({"before": before, "lazy": lazy}))
    """
)


def run(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_saving_a_large_array_makes_no_copy_of_it(tmp_path: Path) -> None:
    saved = run(str(SIZE), str(tmp_path), "save")
    growth = saved["after"] - saved["before"]
    save_only = saved["after"] - saved["with_array"]
    # The array itself is 1x; a single copy while saving would make it 2x.
    assert growth < 1.5 * SIZE, f"peak grew by {growth / SIZE:.2f}x the array"
    assert save_only < 0.1 * SIZE, f"saving added {save_only / SIZE:.2f}x the array"
    assert saved["size"] > SIZE

    loaded = run(str(SIZE), str(tmp_path), "load", saved["key"])
    lazy = loaded["lazy"] - loaded["before"]
    assert lazy < 0.1 * SIZE, f"a lazy load made {lazy / SIZE:.2f}x the array resident"
