"""Started when TriggerUpstreamFlow ends: reads the upstream run's model through
``current.trigger`` in every task; ``end`` fails when GRANGE_TEST_FAIL_END is set
(to test that resume keeps the trigger)."""

import os

from grange import FlowSpec, current, step, trigger_on_finish


def seen():
    trigger = current.trigger
    if trigger is None:
        return None
    return {
        "events": [(e.name, e.id, e.type) for e in trigger.events],
        "run": trigger.run.pathspec,
        "model": trigger.run.data.model,
        "by_flow": trigger["TriggerUpstreamFlow"].pathspec,
        "payload_flow": trigger.event.payload["flow_name"],
    }


@trigger_on_finish(flow="TriggerUpstreamFlow")
class TriggerDownstreamFlow(FlowSpec):
    @step
    def start(self):
        self.seen_start = seen()
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("GRANGE_TEST_FAIL_END"):
            raise RuntimeError("asked to fail")
        self.seen_end = seen()


if __name__ == "__main__":
    TriggerDownstreamFlow()
