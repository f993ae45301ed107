"""Logs: one line per event, plain text or JSON (`LOG_FORMAT`), each carrying the id of the
request it belongs to, and a warning for every SQL statement slower than
`DATABASE_SLOW_STATEMENT_SECONDS` (its duration and SQL, never its parameters, which may hold
personal data or secrets)."""

import json
import logging
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from .settings import get_settings

# The id of the request being served, in the task serving it; "-" outside any request.
request_id: ContextVar[str] = ContextVar("request_id", default="-")

slow_statements = logging.getLogger(f"{__package__}.slow_statements")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record, so a line says which request it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class OneLineFormatter(logging.Formatter):
    """Plain text on one line: a traceback's line breaks are escaped, so that each event is
    one line for whatever collects the logs."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging() -> None:
    """Send every log line, the server's own included, to standard error in `LOG_FORMAT`
    ("text" or "json") from `LOG_LEVEL` up."""
    settings = get_settings()
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else OneLineFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    # uvicorn's loggers have handlers of their own: let their lines go through the root's.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def log_slow_statements(engine: AsyncEngine, threshold: float) -> None:
    """Log a warning for each statement on `engine` that takes longer than `threshold`
    seconds: its duration and its SQL, without the parameters."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def started(connection: Connection, *_: Any) -> None:
        connection.info.setdefault("statement_started", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def finished(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        duration = time.perf_counter() - connection.info["statement_started"].pop()
        if duration > threshold:
            sql = " ".join(statement.split())
            slow_statements.warning("slow statement: %.3f s: %s", duration, sql)

    @event.listens_for(engine.sync_engine, "handle_error")
    def failed(context: ExceptionContext) -> None:
        if context.connection is not None and context.connection.info.get("statement_started"):
            context.connection.info["statement_started"].pop()
