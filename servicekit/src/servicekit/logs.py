"""structlog for the service's own logs and for the stdlib ones (uvicorn, SQLAlchemy, alembic) alike.

JSON lines with ECS field names everywhere but local, where people read a pretty console instead.
Every line passes `redact_secrets` last, so a token or password never reaches the output.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, cast

import ecs_logging
import structlog
from elasticapm.handlers.structlog import structlog_processor
from structlog.typing import EventDict, Processor, WrappedLogger

from servicekit.settings import ServiceSettings

REDACTED = "[REDACTED]"
# The audit trail's logger (servicekit.audit): its events are records of access to personal data, kept
# whatever LOG_LEVEL says.
AUDIT_LOGGER = "servicekit.audit"
_SECRET_KEY = re.compile(r"authorization|token|secret|password|passwd|cookie|api[_-]?key|assertion", re.IGNORECASE)
_CREDENTIAL_NAME = r"(?:password|passwd|secret|token|api[_-]?key)"
_SECRET_TEXT = (
    (re.compile(r"(?i)\b(bearer\s+)\S+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),  # a JWT, wherever it appears
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), rf"\g<1>{REDACTED}@"),  # a password inside a URL
    (re.compile(rf"(?i)\b({_CREDENTIAL_NAME}\s*=\s*)[^\s,;&]+"), rf"\g<1>{REDACTED}"),  # name=value: a query, a DSN
    # "name: value" is also how prose reads ("invalid token: Not enough segments"): a plain word is kept.
    (re.compile(rf"(?i)\b({_CREDENTIAL_NAME}\s*:\s*)(?![a-z]+(?:[\s,;.!?]|$))[^\s,;&]+"), rf"\g<1>{REDACTED}"),
)


def _redacted(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if _SECRET_KEY.search(key):
            return REDACTED
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: _redacted(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(key, item) for item in value]
    return REDACTED if _SECRET_KEY.search(key) and value is not None else value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {key: _redacted(key, value) for key, value in event_dict.items()}


def _ecs_service_fields(settings: ServiceSettings) -> Processor:
    def add_service(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service.name", settings.service_name)
        event_dict.setdefault("service.environment", settings.environment)
        event_dict["log.logger"] = event_dict.pop("logger", None)
        return event_dict

    return add_service


_ECS_FORMATTER = ecs_logging.StructlogFormatter()


def _ecs_json(logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
    """ECS takes its log.level from the method name; `log.exception()` is an error, not a level."""
    level = "error" if method == "exception" else method
    rendered: str = _ECS_FORMATTER(logger, level, cast(dict[str, Any], event_dict))
    return rendered


def _pre_chain() -> list[Processor]:
    """What every line gets, whether it came from structlog or from a stdlib logger."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog_processor,  # trace.id, transaction.id, span.id while an APM transaction runs
        structlog.stdlib.add_logger_name,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]


def _rendering(settings: ServiceSettings) -> list[Processor]:
    if settings.logs_as_json:
        return [_ecs_service_fields(settings), redact_secrets, _ecs_json]
    return [
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="%H:%M:%S.%f"),
        redact_secrets,
        # Colour codes only for a terminal: in a container's or a CI job's log they are noise.
        structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty()),
    ]


def _stdout_handler(formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    return handler


def configure_logging(settings: ServiceSettings) -> None:
    """Route structlog and the stdlib's logging through one formatter writing to stdout."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_rendering(settings)],
    )
    root = logging.getLogger()
    root.handlers[:] = [_stdout_handler(formatter)]
    root.setLevel(settings.log_level)
    # The audit trail has a level and a handler of its own and stops there: no LOG_LEVEL, no level or
    # filter put on the root's handler, and no handler swapped in at the root can lose or repeat it.
    audit = logging.getLogger(AUDIT_LOGGER)
    audit.setLevel(logging.INFO)
    audit.handlers[:] = [_stdout_handler(formatter)]
    audit.propagate = False
    # Each request gets exactly one access line, ours (servicekit/middleware/access_log.py).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Readiness opens a migration context on every probe; its "Context impl" lines are noise.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_pre_chain(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
