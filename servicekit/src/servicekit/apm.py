"""Elastic APM: one transaction per request, named by its route, with its SQL and outbound calls.

The agent is configured by its standard ELASTIC_APM_* variables (which override what is passed
here). With no ELASTIC_APM_SERVER_URL there is no agent at all: nothing is instrumented, no thread
starts, and the service opens no connection for it (no cloud metadata probe, no central config).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import elasticapm

from servicekit.internals.elasticapm import ChilledQueue, Transport
from servicekit.middleware.probes import PROBE_PATHS
from servicekit.settings import ServiceSettings
from servicekit.swagger_ui import SWAGGER_UI_PATH

# Probes every few seconds and the static pages would drown the transactions people look for.
# The agent's ASGI middleware matches these against the whole URL, scheme and host included; `/ui` and
# what is under `/ui/`, not `/uiadmin`.
IGNORED_URLS = [f"*{path}" for path in (*sorted(PROBE_PATHS), SWAGGER_UI_PATH, f"{SWAGGER_UI_PATH}/*", "/openapi.json")]


class ChilledTransport(Transport):
    """The agent's HTTP transport with the queue the agent means it to have, which wakes the sending thread
    once a hundred events or a second. Its own check for that queue (6.x) looks on `queue.Queue` for what
    Queue sets on each instance, so it falls back to a plain queue, waking the thread for every span and
    transaction: a thread switch each, and the GIL handed over."""

    def _init_event_queue(self, chill_until: int, max_chill_time: float) -> ChilledQueue:
        return ChilledQueue(maxsize=10000, chill_until=chill_until, max_chill_time=max_chill_time)


def apm_client(settings: ServiceSettings) -> elasticapm.Client | None:
    if not settings.elastic_apm_server_url:
        return None
    secret_token, api_key = settings.elastic_apm_secret_token, settings.elastic_apm_api_key
    return elasticapm.Client(
        service_name=settings.service_name,
        environment=settings.environment,
        server_url=settings.elastic_apm_server_url,
        secret_token=secret_token.get_secret_value() if secret_token else None,
        api_key=api_key.get_secret_value() if api_key else None,
        transaction_ignore_urls=IGNORED_URLS,
        framework_name="connexion",
        transport_class=f"{ChilledTransport.__module__}.{ChilledTransport.__qualname__}",
    )


@contextmanager
def traced_command(settings: ServiceSettings, name: str) -> Iterator[None]:
    """A command's run (a CronJob's, say) as one APM transaction named `name`, its outbound calls and SQL
    as spans; nothing at all without ELASTIC_APM_SERVER_URL."""
    client = apm_client(settings)
    if client is None:
        yield
        return
    elasticapm.instrument()
    client.begin_transaction("command")
    outcome = "failure"
    try:
        yield
        outcome = "success"
    finally:
        elasticapm.set_transaction_outcome(outcome)
        client.end_transaction(name, outcome)  # type: ignore[no-untyped-call]
        client.close()
