"""HEAD, which HTTP asks of every resource that answers GET (RFC 9110, section 9.3.2): the
status and headers of the GET, without its body. FastAPI's routes answer the methods they
declare and no other, so `curl -I`, uptime monitors and link checkers would get a 405."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a HEAD request goes to the routes as its GET, and its answer is sent
    without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
