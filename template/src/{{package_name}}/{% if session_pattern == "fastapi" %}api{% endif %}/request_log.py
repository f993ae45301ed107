"""Every request gets an id, echoed in its response's `X-Request-ID` and carried by each log
line written while serving it; one log line per request says how it went."""

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import request_id

logger = logging.getLogger(__name__)

HEADER = "X-Request-ID"
# An id from the client (a proxy, another service) is kept only when it is short and plain:
# it goes into every log line of the request.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestLog:
    """ASGI middleware: the request's id from `X-Request-ID`, or a new one; one log line per
    request with its method, path, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        this_request = given if ACCEPTED_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(this_request)
        status = 500  # what the client gets when the app fails before it answers
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(HEADER, this_request)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            milliseconds = (time.perf_counter() - started) * 1000
            logger.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, milliseconds)
            request_id.reset(token)
