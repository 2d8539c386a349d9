"""Publishing events: ``Event("new_data").publish(payload={...})``, and the end event a
run emits when it succeeds.

``Event`` is Metaflow's ``ArgoEvent`` (both names work), with the same
signature and methods. Where an event goes, first that applies:

1. the ``url`` given to ``Event(...)``;
2. ``GRANGE_EVENTS_URL``, else the profile's ``[events] url``: the event is
   POSTed there (a ``grange scheduler``'s ``/events`` or an Argo Events
   webhook), with ``access_token`` / ``GRANGE_EVENTS_TOKEN`` / ``[events]
   token`` as ``Authorization: Bearer``;
3. otherwise it is recorded in the metadata database of the profile in force
   (the ``events`` table), where a ``grange scheduler`` on that database reads it.

Differences from Metaflow, on purpose:

- ``add_to_payload`` keeps the value's JSON type (Metaflow turns every value
  into a string): ``add_to_payload("rows", 3)`` sends ``3``. A payload that
  JSON cannot carry is refused when published, naming the field.
- ``publish`` raises on failure by default (``ignore_errors=False``, an
  :class:`~grange.exceptions.EventError`); ``safe_publish`` does not.
- ``safe_publish`` (``force=False``) publishes only in a deployed run: on Argo
  Workflows (``ARGO_WORKFLOW_TEMPLATE``) or a run started by ``grange
  scheduler`` (``GRANGE_DEPLOYMENT``); elsewhere it only says that it did not.
- An invalid event name is refused at once (see :data:`~grange.events.model.NAME_RULE`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from grange.events.model import AUTO_GENERATED, EventRecord, check_name
from grange.events.settings import EventSettings
from grange.exceptions import EventError, GrangeError

if TYPE_CHECKING:
    from grange.decorators.project import ProjectInfo
    from grange.events.store import EventStore
    from grange.metastore import MetadataStore

__all__ = ["ArgoEvent", "Event", "emit_run_end", "send"]

#: Variables that say a task runs in a deployment (``safe_publish`` publishes there only).
DEPLOYED_ENV = ("ARGO_WORKFLOW_TEMPLATE", "GRANGE_DEPLOYMENT")


class Event:
    """A named event, with a payload, that starts the flows deployed with
    ``@trigger(event=NAME)`` (on Argo Workflows or under ``grange scheduler``).

    ``name``: the event's name, or a function returning it. ``url``: where to
    POST it (default: ``GRANGE_EVENTS_URL``, the profile's ``[events] url``, else
    the profile's metadata database). ``payload``: its fields, which set the
    parameters of the flows it triggers. ``access_token``: sent as a bearer token.
    """

    def __init__(
        self,
        name: str | Callable[[], str],
        url: str | None = None,
        payload: Mapping[str, Any] | None = None,
        access_token: str | None = None,
    ) -> None:
        if callable(name):
            name = name()
        self._name = check_name(name)
        self._url = url
        self._payload: dict[str, Any] = dict(payload or {})
        self._access_token = access_token

    @property
    def name(self) -> str:
        return self._name

    def add_to_payload(self, key: str, value: Any) -> Event:
        """Set payload field ``key`` (often the name of a parameter it sets) to ``value``,
        replacing any value it had; returns the event, so calls chain."""
        self._payload[key] = value
        return self

    def publish(
        self,
        payload: Mapping[str, Any] | None = None,
        force: bool = True,
        ignore_errors: bool = False,
    ) -> str | None:
        """Send the event now, with ``payload``'s fields added to its own; returns its id.

        It does not wait for any flow to start. With ``force=False`` it is sent only
        in a deployed run (see :meth:`safe_publish`). With ``ignore_errors`` a failure
        is printed and ``None`` returned instead of an :class:`EventError`.
        """
        if not force and not deployed():
            message = (
                f"Event ({self._name}) was not published: this is not a deployed run "
                "(use Event(...).publish() to publish it anyway)"
            )
            if ignore_errors:
                print(message, file=sys.stderr)
                return None
            raise EventError(message, fix="call publish() instead of safe_publish()")
        try:
            record = EventRecord.new(self._name, {**self._payload, **(payload or {})})
            where = send(record, url=self._url, token=self._access_token)
        except Exception as err:  # ignore_errors: best effort, whatever went wrong
            if not ignore_errors:
                raise
            text = err.message if isinstance(err, GrangeError) else f"{type(err).__name__}: {err}"
            print(f"Unable to publish event ({self._name}): {text}", file=sys.stderr)
            return None
        print(f"Event ({self._name}) published to {where}.", file=sys.stderr)
        return record.event_id

    def safe_publish(
        self, payload: Mapping[str, Any] | None = None, ignore_errors: bool = True
    ) -> str | None:
        """Publish the event only in a deployed run (on Argo Workflows, or started by
        ``grange scheduler``): a no-op in local development runs. Errors are printed,
        not raised, unless ``ignore_errors=False``."""
        return self.publish(payload=payload, force=False, ignore_errors=ignore_errors)

    def __repr__(self) -> str:
        return f"Event({self._name!r}, payload={self._payload!r})"


ArgoEvent = Event
"""Metaflow's name for :class:`Event`."""


def deployed(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process is a task of a deployed run (Argo or ``grange scheduler``)."""
    env = os.environ if env is None else env
    return any(env.get(name) for name in DEPLOYED_ENV)


def send(
    record: EventRecord,
    *,
    url: str | None = None,
    token: str | None = None,
    settings: EventSettings | None = None,
    store: EventStore | None = None,
) -> str:
    """Deliver ``record`` where it goes (see the module's docs), with the token in
    force (``token``, else ``GRANGE_EVENTS_TOKEN``, else ``[events] token``) when
    it goes over HTTP; returns where, as it may be printed. ``store`` is the local destination when no URL applies
    (default: the profile's, opened now)."""
    if url is None or token is None:
        settings = EventSettings.of_profile() if settings is None else settings
        url = url or settings.url
        token = token or settings.token
    if url:
        from grange.events.webhook import check_url, post_event

        headers = {"Grange-User": record.user or "", "Grange-Host": record.host or ""}
        post_event(url, record.body(), token=token, headers=headers)
        return check_url(url)
    if store is None:
        from grange.events.store import open_event_store

        store = open_event_store()
    store.record(record)
    return store.describe()


def end_event(
    *,
    flow: str,
    run_id: str,
    end_step: str,
    task_id: str,
    project: ProjectInfo | None,
    user: str | None = None,
) -> EventRecord:
    """The event a successful run emits: ``metaflow.<project_flow_name>.end``, with
    Metaflow's payload; its id is the end task's pathspec (a run emits it once)."""
    from grange.decorators.triggers import end_event_name

    pathspec = f"{flow}/{run_id}/{end_step}/{task_id}"
    payload: dict[str, Any] = {
        "id": pathspec,
        "pathspec": pathspec,
        "flow_name": flow,
        "run_id": run_id,
        "step_name": end_step,
        "task_id": task_id,
    }
    if project is not None:
        payload.update(
            project_name=project.project_name,
            branch_name=project.branch_name,
            is_user_branch=project.is_user_branch,
            is_production=project.is_production,
            project_flow_name=project.project_flow_name,
        )
    payload[AUTO_GENERATED] = True
    name = end_event_name(project.project_flow_name if project is not None else flow)
    return EventRecord.new(name, payload, source="auto", user=user)


def emit_run_end(
    metadata: MetadataStore,
    *,
    flow: str,
    run_id: str,
    end_step: str,
    project: ProjectInfo | None,
    events: Mapping[str, Any] | None,
    user: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> str | None:
    """Emit the end event of run ``flow/run_id``, which has just succeeded: to the
    events URL in force, else into ``metadata`` (the run's own database). ``events``
    is the profile's ``[events]`` table. Never raises: a failure is given to
    ``warn`` (default: printed), since the run has succeeded all the same.
    Returns the event's id, or ``None`` (not emitted)."""
    say = warn or (lambda text: print(f"Warning: {text}", file=sys.stderr))
    try:
        settings = EventSettings.read(events)
        if not settings.auto_emit:
            return None
        tasks = metadata.list_tasks(flow, run_id, step=end_step)
        if not tasks:
            return None
        record = end_event(
            flow=flow,
            run_id=run_id,
            end_step=end_step,
            task_id=tasks[0].task_id,
            project=project,
            user=user,
        )
        if settings.url:
            send(record, settings=settings)
        else:
            from grange.events.store import EventStore

            EventStore(metadata).record(record)
        return record.event_id
    except Exception as err:
        text = err.message if isinstance(err, GrangeError) else f"{type(err).__name__}: {err}"
        fix = f" ({err.fix})" if isinstance(err, GrangeError) and err.fix else ""
        say(f"the run succeeded, but its end event could not be emitted: {text}{fix}")
        return None
