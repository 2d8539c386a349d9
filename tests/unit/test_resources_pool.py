"""Admission of tasks by their @resources on a (simulated) machine."""

from __future__ import annotations

from grange.decorators.options import Resources
from grange.runtime.resources import Machine, ResourcePool


def pool(cpus: float = 2, memory: int = 8000, gpus: tuple[str, ...] = ()) -> ResourcePool:
    return ResourcePool(Machine(cpus=cpus, memory=memory, gpus=gpus))


def test_cpus_are_counted() -> None:
    p = pool(cpus=2)
    first = p.try_acquire(Resources(cpu=2, memory=100))
    assert first is not None and not first.oversized
    assert p.try_acquire(Resources(cpu=1, memory=100)) is None  # both cores taken
    p.release(first)
    assert p.try_acquire(Resources(cpu=1, memory=100)) is not None


def test_memory_is_counted() -> None:
    p = pool(memory=8000)
    assert p.try_acquire(Resources(cpu=0.5, memory=5000)) is not None
    assert p.try_acquire(Resources(cpu=0.5, memory=5000)) is None
    assert p.try_acquire(Resources(cpu=0.5, memory=3000)) is not None


def test_gpus_are_never_shared() -> None:
    p = pool(cpus=8, gpus=("0", "1"))
    a = p.try_acquire(Resources(cpu=1, memory=10, gpu=1))
    b = p.try_acquire(Resources(cpu=1, memory=10, gpu=1))
    assert a is not None and b is not None
    assert {a.gpus, b.gpus} == {("0",), ("1",)}
    assert a.env() == {"CUDA_VISIBLE_DEVICES": a.gpus[0]}
    assert p.try_acquire(Resources(cpu=1, memory=10, gpu=1)) is None
    p.release(a)
    c = p.try_acquire(Resources(cpu=1, memory=10, gpu=1))
    assert c is not None and c.gpus == a.gpus


def test_a_task_without_gpus_sees_none() -> None:
    p = pool(gpus=("0",))
    alloc = p.try_acquire(Resources(cpu=1, memory=10))
    assert alloc is not None and alloc.env() == {"CUDA_VISIBLE_DEVICES": ""}


def test_a_request_larger_than_the_machine_runs_alone_clamped() -> None:
    p = pool(cpus=2, memory=8000)
    small = p.try_acquire(Resources(cpu=1, memory=100))
    assert small is not None
    assert p.try_acquire(Resources(cpu=1, memory=60000)) is None  # waits for the machine
    p.release(small)
    big = p.try_acquire(Resources(cpu=1, memory=60000))
    assert big is not None and big.oversized and big.memory == 8000
    assert p.try_acquire(Resources(cpu=0.5, memory=10)) is None  # it has the machine


def test_gpus_from_cuda_visible_devices() -> None:
    assert Machine.detect({"CUDA_VISIBLE_DEVICES": "2,3"}).gpus == ("2", "3")
    assert Machine.detect({"CUDA_VISIBLE_DEVICES": ""}).gpus == ()
    machine = Machine.detect({})
    assert machine.cpus >= 1 and machine.memory > 0


def test_a_task_without_resources_reserves_nothing() -> None:
    p = pool(cpus=2, gpus=("0",))
    held = p.try_acquire(Resources(cpu=2, memory=100, gpu=1))
    assert held is not None
    free = [p.try_acquire(None) for _ in range(20)]  # only --max-workers bounds these
    assert all(a is not None and a.env() == {} for a in free)
    for a in free:
        p.release(a)  # type: ignore[arg-type]
    assert p.cpu_used == 2 and p.running == 1
