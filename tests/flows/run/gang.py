"""A @parallel gang of 3 doing a tiny all-reduce over TCP at current.parallel.main_ip.

Node 0 (the control task) listens on $GANG_PORT; the others send it their value and
read back the sum. $GANG_FAIL_NODE fails that node (before the all-reduce) while
current.retry_count < $GANG_FAIL_TIMES (default: always); $GANG_SOLO skips the
all-reduce, and the failing node first waits until the others have succeeded.
"""

import os
import socket
import time

from grange import FlowSpec, current, parallel, step


def allreduce(value: int) -> int:
    p = current.parallel
    port = int(os.environ["GANG_PORT"])
    if p.node_index == 0:
        server = socket.create_server((p.main_ip, port))
        conns = [server.accept()[0] for _ in range(p.num_nodes - 1)]
        total = value + sum(int(c.makefile().readline()) for c in conns)
        for conn in conns:
            conn.sendall(f"{total}\n".encode())
            conn.close()
        server.close()
        return total
    for _ in range(6000):  # the control task may not listen yet
        try:
            conn = socket.create_connection((p.main_ip, port))
            break
        except OSError:
            time.sleep(0.01)
    conn.sendall(f"{value}\n".encode())
    total = int(conn.makefile().readline())
    conn.close()
    return total


def wait_for_the_others() -> None:
    from grange import Flow

    for _ in range(6000):
        tasks = list(Flow(current.flow_name)[current.run_id]["train"].tasks())
        if sum(t.successful for t in tasks) == current.parallel.num_nodes - 1:
            return
        time.sleep(0.01)


class GangFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        p = current.parallel
        self.facts = {
            "main_ip": p.main_ip,
            "num_nodes": p.num_nodes,
            "node_index": p.node_index,
            "control_task_id": p.control_task_id,
            "is_parallel": current.is_parallel,
            "input": self.input,
            "index": self.index,
            "task_id": current.task_id,
            "env": {k: v for k, v in os.environ.items() if "_PARALLEL_" in k},
        }
        fail_times = int(os.environ.get("GANG_FAIL_TIMES", "99"))
        if (
            os.environ.get("GANG_FAIL_NODE") == str(p.node_index)
            and current.retry_count < fail_times
        ):
            if os.environ.get("GANG_SOLO"):
                wait_for_the_others()
            raise RuntimeError(f"node {p.node_index} fails on purpose")
        value = self.base + p.node_index
        self.total = value if os.environ.get("GANG_SOLO") else allreduce(value)
        self.attempt = current.retry_count
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = [i.facts["node_index"] for i in inputs]
        self.totals = [i.total for i in inputs]
        self.controls = sorted({i.facts["control_task_id"] for i in inputs})
        self.attempts = [i.attempt for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GangFlow()
