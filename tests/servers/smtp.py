"""A loopback SMTP server (aiosmtpd) that records what it accepts, for send/retry tests.

aiosmtpd's `Controller` runs the server's event loop in its own thread, so the server keeps
answering while a test blocks, and a test's own loop (where the code under test sends with
aiosmtplib) is never shared with it. State shared with that thread sits behind one lock.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import errno
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
_START_ATTEMPTS = 3  # a free port can be taken between probing and binding it


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted with 250."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # as received after dot-unstuffing, CRLF line ends
    auth_login: str | None  # the AUTH identity, None when the client did not authenticate

    @property
    def message(self) -> email.message.Message:
        """The data parsed with the stdlib's default (compat32) policy."""
        return email.message_from_bytes(self.data)


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    received: list[ReceivedMessage] = field(default_factory=list)
    refusals_left: int = 0
    refusal_reply: str = ""
    drops_left: int = 0  # DATA received in full, then the connection dropped, no reply
    drop_keeps: bool = True  # whether a dropped message was accepted (recorded) all the same
    on_accept: Callable[[bytes], None] | None = None  # e.g. a Gmail-like copy into Sent
    hold: threading.Event | None = None  # the next DATA waits until this is set
    holding: threading.Event = field(default_factory=threading.Event)  # a DATA is held now
    hold_accepted: bool = False  # the held DATA is accepted first; only its answer waits


class _RecordingHandler:
    """aiosmtpd handler: refuse DATA while refusals are queued, else record and accept."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        state = self._state
        if not state.hold_accepted:
            await self._held(state)
        with state.lock:
            if state.refusals_left > 0:
                state.refusals_left -= 1
                return state.refusal_reply
            drop = state.drops_left > 0
            state.drops_left -= drop
            if not drop or state.drop_keeps:
                self._accept(session, envelope)
        if state.hold_accepted:
            state.hold_accepted = False
            await self._held(state)  # accepted: the "250" waits (a client killed now)
        if drop:
            # The whole message arrived; the answer to its final "." never leaves: the
            # client cannot know whether we took it (a provider crashing, a NAT timeout).
            assert server.transport is not None
            server.transport.abort()
        return "250 2.0.0 OK: queued"

    @staticmethod
    async def _held(state: _State) -> None:
        with state.lock:
            release, state.hold = state.hold, None
        if release is None:
            return
        state.holding.set()
        while not release.is_set():  # polled: the event is set from the test's thread
            await asyncio.sleep(0.01)

    def _accept(self, session: Session, envelope: Envelope) -> None:
        record = _record(session, envelope)
        if self._state.on_accept is not None:
            self._state.on_accept(record.data)
        self._state.received.append(record)
        self._state.lock.notify_all()


def _record(session: Session, envelope: Envelope) -> ReceivedMessage:
    auth = session.auth_data  # what _authenticate put in AuthResult.auth_data
    auth_login = auth.login.decode() if isinstance(auth, LoginPassword) else None
    return ReceivedMessage(
        mail_from=envelope.mail_from or "",
        rcpt_tos=tuple(envelope.rcpt_tos),
        data=envelope.original_content or b"",
        auth_login=auth_login,
    )


class RecordingSMTPServer:
    """aiosmtpd on a free 127.0.0.1 port, recording every accepted message.

    AUTH PLAIN and LOGIN are offered without TLS and accept exactly `user`/`password`;
    with `require_auth=True` unauthenticated MAIL FROM is refused (530) -- aiosmtpd then
    warns (UserWarning) on every connection that AUTH without TLS is insecure.
    """

    def __init__(
        self,
        *,
        user: str = "agent@example.test",
        password: str = "smtp-password",
        require_auth: bool = False,
    ) -> None:
        self.host = HOST
        self.port = 0
        self.user = user
        self.password = password
        self._require_auth = require_auth
        self._state = _State()
        self._controller: Controller | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> RecordingSMTPServer:
        if self._controller is not None:
            raise RuntimeError("RecordingSMTPServer is already running")
        for attempt in range(_START_ATTEMPTS):
            try:
                self._start_on(_free_port())
                return self
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == _START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_on(self, port: int) -> None:
        controller = Controller(
            _RecordingHandler(self._state),
            hostname=self.host,
            port=port,
            # A fixed name: the default is socket.getfqdn(), a DNS lookup that can stall.
            server_hostname="smtp.example.test",
            authenticator=self._authenticate,
            auth_required=self._require_auth,
            # Tests talk plain SMTP on loopback; production code uses TLS to the provider.
            auth_require_tls=False,
        )
        controller.start()
        self._controller, self.port = controller, port

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> RecordingSMTPServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --------------------------------------------------------------- control

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the accepted messages, oldest first."""
        with self._state.lock:
            return list(self._state.received)

    def clear(self) -> None:
        with self._state.lock:
            self._state.received.clear()

    def refuse_next(self, n: int = 1, code: int = 451, text: str | None = None) -> None:
        """Answer the next `n` DATA commands with `code` (4xx: retry later) instead of 250."""
        if not 400 <= code <= 599:
            raise ValueError("a refusal needs a 4xx or 5xx code")
        default = "4.3.0 Try again later" if code < 500 else "5.7.1 Message refused"
        with self._state.lock:
            self._state.refusals_left = n
            self._state.refusal_reply = f"{code} {text or default}"

    def drop_after_data(self, n: int = 1, *, accepted: bool = True) -> None:
        """For the next `n` messages: read all of DATA, then drop the connection without
        answering. `accepted`: the server kept the message (it is recorded and delivered)."""
        with self._state.lock:
            self._state.drops_left = n
            self._state.drop_keeps = accepted

    def hold_next_data(self) -> tuple[threading.Event, threading.Event]:
        """Keep the next DATA waiting (the message read, no answer yet) until released:
        returns (holding, release): `holding` is set once a DATA waits, set `release` to let
        it be answered. A sender stays mid-send as long as the test needs."""
        release = threading.Event()
        with self._state.lock:
            self._state.hold = release
            self._state.holding.clear()
        return self._state.holding, release

    def hold_next_answer(self) -> tuple[threading.Event, threading.Event]:
        """Accept the next message (recorded, `on_accept` run), then keep its "250" waiting
        until released: a sender killed meanwhile never learns that it went. Returns
        (holding, release) as `hold_next_data` does."""
        holding, release = self.hold_next_data()
        with self._state.lock:
            self._state.hold_accepted = True
        return holding, release

    def on_accept(self, hook: Callable[[bytes], None] | None) -> None:
        """Call `hook(data)` (in the server's thread) for each message accepted, as Gmail files
        what its SMTP accepts in the Sent folder."""
        self._state.on_accept = hook

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages were accepted; return them all.

        Blocking: do not call it from a test's event loop while that loop still has to send
        (the send would never run); use `wait_for_async` there.
        """
        with self._state.lock:
            done = self._state.lock.wait_for(lambda: len(self._state.received) >= count, timeout)
            received = list(self._state.received)
        if not done:
            raise TimeoutError(f"{len(received)} of {count} messages after {timeout}s")
        return received

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """`wait_for` for async tests: polls, so the test's own loop keeps running."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.messages
            if len(received) >= count:
                return received
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(received)} of {count} messages after {timeout}s")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ AUTH

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            mechanism in ("PLAIN", "LOGIN")
            and isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user.encode()
            and auth_data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
