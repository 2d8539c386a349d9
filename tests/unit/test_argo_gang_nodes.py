"""A @parallel gang on Argo: node 0 publishes its pod's IP for its attempt, the other
nodes wait for it (bounded, naming the control task), and a failed node stops the
others of its gang attempt."""

from __future__ import annotations

import json
import time

import pytest

from grange.datastore import AttemptRecord, read_record, write_record
from grange.datastore.backend import MemoryBlobStore
from grange.exceptions import KubernetesError
from grange.runtime.argo_gang import (
    FAILED_FILE,
    MAIN_IP_FILE,
    GangWatch,
    gang_info,
    report_failure,
    wait_seconds,
)
from grange.task.stores import TaskStores

RUN = "argo-wf-1"


def stores() -> TaskStores:
    return TaskStores(MemoryBlobStore(), "GangFlow")


def test_node_0_publishes_its_pod_ip_under_its_attempt_and_the_others_read_it() -> None:
    s = stores()
    info = gang_info(s, RUN, "train", (3, 0), 1, environ={"GRANGE_POD_IP": "10.0.0.7"})
    assert info == {"control_task_id": "t3.0", "main_ip": "10.0.0.7"}
    stored = json.loads(s.blobs.get_bytes(f"GangFlow/{RUN}/train/t3.0/1/{MAIN_IP_FILE}"))
    assert stored["main_ip"] == "10.0.0.7"
    other = gang_info(s, RUN, "train", (3, 2), 1, environ={"GRANGE_POD_IP": "10.0.0.9"})
    assert other == {"control_task_id": "t3.0", "main_ip": "10.0.0.7"}


def test_a_node_never_reads_the_address_of_an_earlier_attempt() -> None:
    s = stores()
    gang_info(s, RUN, "train", (0,), 0, environ={"GRANGE_POD_IP": "10.0.0.1"})
    with pytest.raises(KubernetesError) as err:
        gang_info(s, RUN, "train", (1,), 1, environ={"GRANGE_GANG_WAIT": "0"}, sleep=lambda _: None)
    text = err.value.render()
    assert "control task t0 (node 0)" in text and "attempt 1" in text
    assert "has not started" in text and "GRANGE_GANG_WAIT" in (err.value.fix or "")
    assert err.value.step == "train"


def test_the_wait_ends_when_node_0_ended_without_publishing() -> None:
    s = stores()
    record = AttemptRecord(
        flow="GangFlow",
        run_id=RUN,
        step="train",
        task_id="t0",
        attempt=0,
        status="failed",
        started_at=0.0,
        finished_at=1.0,
    )
    write_record(s.blobs, record)
    slept: list[float] = []
    with pytest.raises(KubernetesError) as err:
        gang_info(s, RUN, "train", (2,), 0, environ={}, sleep=slept.append)
    assert "ended without publishing" in err.value.message
    assert slept == []  # no waiting for a node that is gone


def test_a_catch_fallback_neither_publishes_nor_waits() -> None:
    s = stores()
    info = gang_info(s, RUN, "train", (1,), 2, fallback=True, environ={"GRANGE_POD_IP": "1.2.3.4"})
    assert info == {"control_task_id": "t0", "main_ip": "1.2.3.4"}
    assert s.blobs.list(f"GangFlow/{RUN}") == []


@pytest.mark.parametrize("text", ["soon", "-1", "nan"])
def test_a_bad_wait_is_named(text: str) -> None:
    with pytest.raises(KubernetesError) as err:
        wait_seconds({"GRANGE_GANG_WAIT": text})
    assert "GRANGE_GANG_WAIT" in err.value.message
    assert wait_seconds({}) == 900.0 and wait_seconds({"GRANGE_GANG_WAIT": "30"}) == 30.0


def test_a_failed_node_stops_the_others_with_a_record_naming_it() -> None:
    s = stores()
    exits: list[int] = []
    frames = [["start", "t0", 2, 3, True, None]]
    watch = GangWatch(s, RUN, "train", (2,), 0, frames, interval=0.01, exit=exits.append)
    watch.start()
    report_failure(s, RUN, "train", (1,), 0, {"type": "builtins.RuntimeError"})
    assert s.blobs.exists(f"GangFlow/{RUN}/train/t0/0/{FAILED_FILE}")
    for _ in range(500):
        if exits:
            break
        time.sleep(0.01)
    assert exits == [1]
    record = read_record(s.blobs, "GangFlow", RUN, "train", "t2", 0)
    assert record is not None and record.status == "failed"
    assert record.exception is not None and record.exception["type"] == "GangMemberFailed"
    assert (
        "task t1 (node 1) of the same @parallel gang failed (RuntimeError)"
        in (record.exception["message"])
    )
    assert record.extra["frames"] == frames


def test_the_failed_node_does_not_stop_itself_and_a_finished_node_is_left_alone() -> None:
    s = stores()
    exits: list[int] = []
    mine = GangWatch(s, RUN, "train", (1,), 0, [], interval=0.01, exit=exits.append)
    mine.start()
    done = GangWatch(s, RUN, "train", (0,), 0, [], interval=0.01, exit=exits.append)
    done.start()
    done.stop()  # its step ended: its own record stands
    report_failure(s, RUN, "train", (1,), 0, None)
    time.sleep(0.2)
    assert exits == []
    assert read_record(s.blobs, "GangFlow", RUN, "train", "t0", 0) is None
