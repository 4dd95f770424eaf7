"""What keeps ``audiogender serve`` safe from its clients, whatever they send and however slowly.

* :class:`BodyLimit` (ASGI): a body over the cap answers 413, before it is read when its
  length is declared, and a body not received within the time limit 408.
* :class:`Guard` (ASGI): only the Host names the server was started for are answered
  (so a page elsewhere cannot reach it by DNS rebinding), a POST from another origin is
  refused unless allowed, and every response carries a strict Content-Security-Policy
  and the headers that stop the page being framed or sniffed.
* :func:`guarded_protocol` (uvicorn): a connection that has not sent a whole request
  head within the time limit (one byte every few seconds, or nothing at all) is closed.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import HTTPException

from .settings import Limits

LOOPBACK = ("localhost", "127.0.0.1", "::1")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
     b"media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"microphone=(self), camera=(), geolocation=()"),
]  # fmt: skip
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def send_json(send, status: int, detail: str, headers: list | None = None) -> None:
    """An error answered from middleware, before the application sees the request, and the connection closed."""
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"connection", b"close"), *SECURITY_HEADERS, *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: a body over the cap answers 413 and a body not received within the time limit 408.

    The request's deadline (``scope["state"]["deadline"]``) is set here, so that the
    classification behind it stops at the same moment.
    """

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_upload_bytes:
            return await send_json(send, 413, f"the upload is larger than the limit of {self.limits.max_upload_bytes} bytes")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.request_seconds
        received = 0

        async def limited_receive():
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                raise HTTPException(408, "the upload was not received within the time limit") from None
            received += len(message.get("body", b""))
            if received > self.limits.max_upload_bytes:
                raise HTTPException(413, f"the upload is larger than the limit of {self.limits.max_upload_bytes} bytes")
            return message

        scope.setdefault("state", {})["deadline"] = deadline
        await self.app(scope, limited_receive, send)


def host_name(host: str) -> str:
    """A Host header's name, without its port, lower case (``[::1]:8000`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: Host names and origins checked, security headers on every response.

    ``hosts`` are the names a request's Host may give (the server's own and the
    loopback names); ``origins`` the other origins (``https://app.example``) whose
    pages may POST here and read the answer.
    """

    def __init__(self, app, hosts: list[str], origins: list[str]):
        self.app = app
        self.hosts = {host_name(h) for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.hosts:
            return await send_json(send, 421, f"this server does not answer for the host {host!r}; start it with --allow-host to add a name")
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{host.lower()}"
        foreign = bool(origin) and origin != own
        if foreign and scope["method"] not in SAFE_METHODS and origin not in self.origins:
            return await send_json(send, 403, f"requests from the origin {origin!r} are refused; start the server with --allow-origin {origin} to allow them")
        allowed = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")] if foreign and origin in self.origins else []

        async def send_guarded(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS, *allowed]}
            await send(message)

        await self.app(scope, receive, send_guarded)


def guarded_protocol(header_seconds: float):
    """uvicorn's h11 protocol, with a time limit on a connection's first request head (later ones have the keep-alive timeout)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.head_timer = self.loop.call_later(header_seconds, self.head_too_slow)

        def handle_events(self):
            super().handle_events()
            if self.cycle is not None and self.head_timer is not None:  # a whole request head arrived
                self.head_timer.cancel()
                self.head_timer = None

        def connection_lost(self, exc):
            if self.head_timer is not None:
                self.head_timer.cancel()
            super().connection_lost(exc)

        def head_too_slow(self):
            self.head_timer = None
            if not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    return GuardedH11Protocol
