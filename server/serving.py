"""How `checkup-server run` drives uvicorn: the HTTP protocol with two limits uvicorn
lacks, and the options passed to it.

- **Request heads are bounded.** A request line plus headers over ``MAX_HEAD_BYTES``
  (32 KiB, the same as Nginx's ``large_client_header_buffers 4 8k``) is answered ``431``
  and the connection closed, before the parser buffers any more of it. (httptools has no
  limit of its own; with h11, ``h11_max_incomplete_event_size`` is set to the same.)
- **Stopping is quick over TLS too.** On shutdown uvicorn closes idle keep-alive
  connections; over TLS, closing waits for the client's ``close_notify``, which an idle
  client never sends, so SIGTERM took the whole 30 s SSL shutdown timeout. Here a
  connection still open ``TLS_CLOSE_GRACE`` seconds after it was closed for shutdown is
  dropped (a request in flight still gets the graceful timeout to finish first).
"""
from __future__ import annotations

import logging

MAX_HEAD_BYTES = 32 * 1024
TLS_CLOSE_GRACE = 1.0

log = logging.getLogger("checkup.server")

_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n")
_431_BODY = b'{"detail":"request headers larger than %d bytes"}' % MAX_HEAD_BYTES


class _QuickShutdown:
    """Mixed into uvicorn's protocol classes: bound how long a closed connection may linger
    once the server is stopping."""

    def shutdown(self) -> None:
        super().shutdown()
        self._checkup_watch()

    def _checkup_watch(self) -> None:
        transport = self.transport
        if transport is None or self not in self.connections:
            return
        if transport.is_closing():
            # closed (idle, or its last response sent): give a TLS peer a moment to answer
            # close_notify, then drop it
            self.loop.call_later(TLS_CLOSE_GRACE, self._checkup_abort)
        else:   # a request in flight: look again soon
            self.loop.call_later(0.2, self._checkup_watch)

    def _checkup_abort(self) -> None:
        if self in self.connections and self.transport is not None:
            self.transport.abort()


class _HeadTooLarge(Exception):
    pass


def _head_limited(base):  # noqa: ANN001
    """httptools: count the bytes of each request head (URL and headers as parsed, and the
    bytes of a head still incomplete after a read, which the parser is buffering); over
    the limit, answer 431 and close."""

    class Protocol(_QuickShutdown, base):
        _checkup_in_head = False
        _checkup_head_bytes = 0
        _checkup_too_large = False

        def on_message_begin(self) -> None:
            self._checkup_in_head = True
            self._checkup_head_bytes = 0
            super().on_message_begin()

        def _checkup_count(self, n: int) -> None:
            self._checkup_head_bytes += n
            if self._checkup_head_bytes > MAX_HEAD_BYTES:
                self._checkup_too_large = True
                raise _HeadTooLarge   # the parser stops; uvicorn calls send_400_response

        def on_url(self, url: bytes) -> None:
            self._checkup_count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._checkup_count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._checkup_in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._checkup_in_head and self.transport is not None \
                    and not self.transport.is_closing():
                # the head is still incomplete after this read: the parser holds all of it
                self._checkup_head_bytes += len(data)
                if self._checkup_head_bytes > MAX_HEAD_BYTES:
                    self._checkup_too_large = True
                    self.send_400_response("")

        def send_400_response(self, msg: str) -> None:
            if not self._checkup_too_large:
                return super().send_400_response(msg)
            self._checkup_in_head = False
            log.warning("request headers from %s over %d bytes: refused (431)",
                        self.client[0] if self.client else "?", MAX_HEAD_BYTES)
            self.transport.write(_431 + b"content-length: %d\r\n\r\n" % len(_431_BODY)
                                 + _431_BODY)
            self.transport.close()
            self.parser = _Closed()

    Protocol.__name__ = Protocol.__qualname__ = "Checkup" + base.__name__
    return Protocol


class _Closed:
    """Stands in for the parser of a refused connection: what else arrives is dropped."""

    def feed_data(self, data: bytes) -> None:
        pass

    def __getattr__(self, name: str):  # noqa: ANN204
        raise AttributeError(name)


from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402


class CheckupH11Protocol(_QuickShutdown, H11Protocol):
    """h11 (no httptools): its own head limit is set by uvicorn_options()."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:   # httptools not installed: uvicorn uses h11
    CheckupHttpToolsProtocol = None
else:
    CheckupHttpToolsProtocol = _head_limited(HttpToolsProtocol)


def http_protocol():  # noqa: ANN201
    """The protocol class for ``uvicorn.run(http=...)`` (module-level, so workers can import it)."""
    return CheckupHttpToolsProtocol or CheckupH11Protocol


def uvicorn_options() -> dict:
    return {"http": http_protocol(), "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
