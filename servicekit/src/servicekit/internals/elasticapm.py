"""elastic-apm's internals the kit relies on: the transport's queue (`servicekit.apm.ChilledTransport`
overrides how the agent makes it) and the queue class the agent means it to be."""

from __future__ import annotations

from servicekit.internals import Internals

ELASTIC_APM = Internals("elastic-apm")

with ELASTIC_APM.imported():
    from elasticapm.transport.base import ChilledQueue
    from elasticapm.transport.http import Transport

ELASTIC_APM.require(Transport, "_init_event_queue")

__all__ = ["ChilledQueue", "Transport"]
