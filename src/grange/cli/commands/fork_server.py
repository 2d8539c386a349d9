"""``_fork-server``: the fork server of a step environment (hidden; the runtime starts it).

Run in the environment's interpreter (``<env python> flow.py [top-level options]
_fork-server --requests-fd N --events-fd M``), it imports the flow as ``step``
does, then forks one process per task the runtime asks for over the sockets it
was handed, as the runtime's own zygote does (:mod:`grange.runtime.zygote`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import traceback

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.runtime_options import datastore_root


@click.command("_fork-server", cls=GuardedCommand, hidden=True)
@click.option("--requests-fd", type=int, required=True)
@click.option("--events-fd", type=int, required=True)
@click.option("--max-num-splits", type=int, default=100_000)
@pass_flow
def fork_server(flow: FlowContext, requests_fd: int, events_fd: int, max_num_splits: int) -> None:
    from grange.runtime.processes import (
        PARENT_PID_ENV,
        die_with_parent,
        end_children,
        forget_shim,
    )
    from grange.runtime.zygote import _Zygote
    from grange.task.execute import flow_facts, run_task
    from grange.task.spec import TaskSpec
    from grange.task.stores import TaskStores

    forget_shim()  # not for what its tasks start
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent and parent.isdigit():
        die_with_parent(int(parent))  # never outlive the runtime
    requests = socket.socket(fileno=requests_fd)
    events = socket.socket(fileno=events_fd)
    flow_cls, project = flow.flow_cls, flow.project()
    root = datastore_root(flow.settings)
    flow_facts(flow_cls)  # computed once here, inherited by every task

    def entry(spec: TaskSpec) -> int:
        stores = TaskStores(root.open(), spec.flow)
        record = run_task(flow_cls, spec, stores, max_num_splits=max_num_splits, project=project)
        return 0 if record.status == "ok" else 1

    code = 0
    try:
        # The flow imported in this interpreter: what fails from now on is not the
        # flow file's top level (the runtime tells the two apart).
        from grange.runtime.zygote import _EVENT

        events.send(_EVENT.pack(b"r", 0, 0))
        _Zygote(requests, events, entry, signal.getsignal(signal.SIGHUP)).serve()
    except BaseException:
        code = 1
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            end_children()
        os._exit(code)
