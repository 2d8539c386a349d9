"""``spin``: run one step of an earlier run again, with the flow file as it is now.

An edit-and-retry loop: the step gets the inputs the earlier run recorded (its
parents' artifacts, the run's parameters, its foreach item), optionally changed
by an ``--artifacts-module``, and runs in this process; its result is kept in
the spin store (:mod:`grange.datastore.spin`), apart from real runs, where
:func:`grange.client.inspect_spin` reads it. Modules: :mod:`.origin` (which
task, and whether the flow still fits its inputs), :mod:`.artifacts`
(``--artifacts-module``), :mod:`.execute` (the spin itself), :mod:`.logs`.
"""

from grange.runtime.spin.artifacts import read_artifacts_module
from grange.runtime.spin.execute import SpinRequest, SpinResult, spin
from grange.runtime.spin.origin import OriginTask, check_inputs, origin_task

__all__ = [
    "OriginTask",
    "SpinRequest",
    "SpinResult",
    "check_inputs",
    "origin_task",
    "read_artifacts_module",
    "spin",
]
