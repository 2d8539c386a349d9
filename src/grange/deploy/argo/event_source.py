"""The webhook EventSource of grange's Argo Events convention: :func:`event_source`.

Every event (published with ``Event(...).publish()`` or by a run's end) is an
HTTP POST of ``{"name": N, "payload": {...}}`` to one webhook; every Sensor
that grange compiles listens to that webhook's one event and filters on the
body's name. ``python flow.py argo-workflows event-source`` prints (or, with
``--apply``, creates) this object; a cluster needs it once per namespace, with
an EventBus (``[argo] event_bus``, default ``default``). Argo Events makes a
Service ``<source>-eventsource-svc`` for it, so the pods' ``GRANGE_EVENTS_URL``
(``[argo] events_webhook_url``) is :func:`webhook_url`.
"""

from __future__ import annotations

from typing import Any

from hera.events import models as e
from hera.events.models.io.k8s.api.core.v1 import SecretKeySelector, ServicePort
from hera.events.models.io.k8s.apimachinery.pkg.apis.meta.v1 import ObjectMeta
from hera.events.models.io.k8s.apimachinery.pkg.util.intstr import IntOrString

from grange.deploy.argo.manifests import API_VERSION, to_dict

PORT = 12000  # Argo Events' examples' webhook port
ENDPOINT = "/events"  # the same path as a `grange scheduler`'s


#: The key of the token in ``[argo] events_webhook_token_secret``: the pods get the Secret
#: as environment variables, so the same key is their ``GRANGE_EVENTS_TOKEN``.
TOKEN_KEY = "GRANGE_EVENTS_TOKEN"


def event_source(
    name: str, event: str, namespace: str, event_bus: str, *, token_secret: str | None = None
) -> dict[str, Any]:
    """The EventSource ``name`` with the one webhook event ``event``; with
    ``token_secret``, the webhook refuses a request without ``Authorization: Bearer
    <the Secret's GRANGE_EVENTS_TOKEN>`` (Argo Events' ``authSecret``)."""
    source = e.EventSource(
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            labels={
                "app.kubernetes.io/part-of": "grange",
                "app.kubernetes.io/name": "grange-events",
            },
        ),
        spec=e.EventSourceSpec(
            event_bus_name=event_bus,
            service=e.Service(ports=[ServicePort(port=PORT, target_port=IntOrString(PORT))]),
        ),
    )
    doc = {"apiVersion": API_VERSION, "kind": "EventSource", **to_dict(source)}
    # hera nests the webhook's fields under webhookContext; the API has them inline (and
    # its schema requires url: "", a public URL only registering sources such as GitHub's need)
    hook = e.WebhookContext(
        endpoint=ENDPOINT,
        method="POST",
        port=str(PORT),
        url="",
        auth_secret=SecretKeySelector(name=token_secret, key=TOKEN_KEY) if token_secret else None,
    )
    doc["spec"]["webhook"] = {event: to_dict(hook)}
    return doc


def webhook_url(name: str, namespace: str) -> str:
    """Where pods reach the EventSource ``name`` (its Service, in ``namespace``)."""
    return f"http://{name}-eventsource-svc.{namespace}.svc:{PORT}{ENDPOINT}"
