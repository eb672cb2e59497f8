"""One IMAP connection (aioimaplib) with the few commands the connector needs.

What this adds to aioimaplib 2.0.3 (DESIGN.md §8):
- STARTTLS, which it lists but does not implement;
- a lost connection fails the command in flight at once: aioimaplib only calls a callback and
  leaves the command waiting for its timeout;
- FETCH without the quadratic rescan of the response after every line;
- IDLE that is always ended (DONE, then the IDLE command awaited) before the next command.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aioimaplib

from connectors.base import AuthFailed, Transient
from connectors.email.imap.wire import (
    FolderStatus,
    answered_uids,
    exists_pushed,
    parse_fetch,
    parse_search,
    parse_select,
    quote_mailbox,
    quote_string,
    sent_folder_in_list,
    uid_set,
)
from connectors.email.mapping import Fetched
from connectors.email.settings import ImapAccountSettings
from connectors.email.tls import tls_context

log = logging.getLogger(__name__)
T = TypeVar("T")

# aioimaplib's timeout is per command and restarted by every chunk received, so it bounds a
# stalled server, not a long FETCH.
COMMAND_TIMEOUT = 60.0
CLOSE_TIMEOUT = 5.0
POLL_WITHOUT_IDLE = 60.0  # seconds between looks on a server without IDLE
# PEEK: syncing must not mark mail \Seen. FLAGS: a first sync imports \Answered mail closed.
FETCH_ITEMS = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
_EXPUNGE_ISSUED = re.compile(r"EXPUNGEISSUED|no longer exist", re.IGNORECASE)


class ImapError(Exception):
    """The server refused a command or the connection failed; the message says which."""


class ConnectionLost(ImapError, Transient):
    """The connection dropped (or never came up): reconnect and resume from the checkpoint."""


class LoginRefused(ImapError, AuthFailed):
    """The server refused the username/password: retrying will not help until they change."""


def backoff_delay(attempt: int, *, first: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: clients that dropped together retry apart."""
    ceiling = min(cap, first * 2 ** min(attempt, 20))
    return random.uniform(ceiling / 2, ceiling)


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's protocol with a linear reader (same logic as upstream's, DESIGN.md §8).

    Upstream `_handle_responses` recurses once per line (RecursionError inside
    `data_received` on a read of many short lines, and the command then hangs), copies the
    rest of the read for every line it takes off (quadratic in the lines of a read), and
    `data_received` formats every read for a debug log line even with debug logging off
    (~2 ms per 256 KiB read). This walks each read once with an offset.
    """

    incomplete_line: bytes
    current_command: Any

    def data_received(self, d: bytes) -> None:
        try:
            self._handle_responses(
                self.incomplete_line + d, self._handle_line, self.current_command
            )
            self.incomplete_line = b""
            self.current_command = None
        except aioimaplib.IncompleteRead as incomplete:
            self.current_command = incomplete.cmd
            self.incomplete_line = incomplete.data

    def _handle_responses(
        self, data: bytes, line_handler: Callable[[bytes, Any], Any], current_cmd: Any = None
    ) -> None:
        pos, view = 0, memoryview(data)
        while True:
            if pos == len(data):
                self._end_of_read(current_cmd)
                return
            if current_cmd is not None and current_cmd.wait_literal_data():
                pos = _take_literal(current_cmd, view, pos)
                if current_cmd.wait_literal_data():
                    raise aioimaplib.IncompleteRead(current_cmd)
            end = data.find(b"\r\n", pos)
            if end < 0:
                raise aioimaplib.IncompleteRead(current_cmd, data[pos:])
            line, pos = data[pos:end], end + 2
            current_cmd = self._after_line(line, line_handler(line, current_cmd))

    def _end_of_read(self, current_cmd: Any) -> None:
        if self.pending_sync_command is not None:
            self.pending_sync_command.flush()
        if current_cmd is not None and current_cmd.wait_data():
            raise aioimaplib.IncompleteRead(current_cmd)

    @staticmethod
    def _after_line(line: bytes, cmd: Any) -> Any:
        """The command the next bytes belong to, as upstream decides it."""
        literal = aioimaplib.literal_data_re.match(line)
        if literal:
            if cmd is None:
                cmd = aioimaplib.Command("NIL", "unused")
            cmd.begin_literal_data(int(literal.group("size")))
            return cmd
        return cmd if cmd is not None and cmd.wait_data() else None


def _take_literal(cmd: Any, view: memoryview, pos: int) -> int:
    """Feed the command the literal bytes it still expects (no copy of the rest of the read)."""
    wanted = cmd._expected_size - len(cmd._resp_literal_data)
    chunk = view[pos : pos + wanted]
    cmd.append_literal_data(chunk)
    return pos + len(chunk)


class _Client(aioimaplib.IMAP4):  # type: ignore[misc]
    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop, conn_lost_cb)
        connect = local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        self._client_task = local_loop.create_task(connect)


class _Fetch(aioimaplib.FetchCommand):  # type: ignore[misc]
    """FETCH for many bodies. Upstream re-joins and re-counts every line received so far after
    each new line (~40 s for 10k bodies in one command), and re-arms its timeout timer (a heap
    push and a cancel) for every line and literal chunk; this keeps a running parenthesis
    balance and one timer that re-checks the time of the last activity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._counted = 0
        self._balance = 0
        self._active_at = 0.0
        super().__init__(*args, **kwargs)

    def _set_timer(self) -> None:
        self._active_at = self._loop.time()
        if self._timeout is not None:
            self._timer = self._loop.call_later(self._timeout, self._check_activity)

    def _reset_timer(self) -> None:
        self._active_at = self._loop.time()

    def _check_activity(self) -> None:
        quiet = self._loop.time() - self._active_at
        if quiet >= self._timeout:
            self._timeout_callback()
        else:
            self._timer = self._loop.call_later(self._timeout - quiet, self._check_activity)

    def wait_data(self) -> bool:
        lines = self._resp_lines
        for line in lines[self._counted :]:
            if isinstance(line, bytes):  # literals are bytearrays: not counted, as upstream
                if self.FETCH_MESSAGE_DATA_RE.match(line):
                    self._balance = 0
                self._balance += line.count(b"(") - line.count(b")")
        self._counted = len(lines)
        return self._balance != 0


class ImapSession:
    """A logged-in connection. Every method raises ImapError (ConnectionLost on a drop)."""

    def __init__(self, settings: ImapAccountSettings) -> None:
        self.settings = settings
        self.lost = asyncio.Event()
        self.selected: str | None = None
        self._client: Any = None

    # ------------------------------------------------------------------ connecting

    @classmethod
    async def open(cls, settings: ImapAccountSettings, password: str) -> ImapSession:
        session = cls(settings)
        try:
            await session._connect()
            await session._login(password)
        except BaseException:
            session.abort()
            raise
        return session

    async def _connect(self) -> None:
        s = self.settings
        context = tls_context(s.imap_cafile) if s.imap_security == "tls" else None
        self._client = _Client(
            s.imap_host,
            s.imap_port,
            timeout=COMMAND_TIMEOUT,
            conn_lost_cb=self._on_lost,
            ssl_context=context,
        )
        try:
            # Guarded: a server that closes before its greeting (restarting, overloaded)
            # would otherwise leave us waiting COMMAND_TIMEOUT for a hello that never comes.
            await self._guard(self._client.wait_hello_from_server())
        except ConnectionLost as lost:
            cause = lost.__cause__ or lost
            raise ConnectionLost(
                f"cannot connect to {s.imap_host}:{s.imap_port}: {cause}"
            ) from cause
        if s.imap_security == "starttls":
            await self._starttls()

    async def _starttls(self) -> None:
        if not self._client.has_capability("STARTTLS"):
            # Never fall back to plain text: the password would cross the network in clear.
            raise ImapError(f"{self.settings.imap_host} does not offer STARTTLS")
        protocol = self._client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        await self._ok(protocol.execute(command), "STARTTLS")
        loop = asyncio.get_running_loop()
        context = tls_context(self.settings.imap_cafile)
        protocol.transport = await self._guard(
            loop.start_tls(
                protocol.transport, protocol, context, server_hostname=self.settings.imap_host
            )
        )
        # Capabilities from before TLS must not be trusted (RFC 3501 §6.2.1).
        await self._guard(protocol.capability())

    async def _login(self, password: str) -> None:
        response = await self._guard(self._client.login(self.settings.username, password))
        if response.result != "OK":
            raise LoginRefused(f"login as {self.settings.username} refused: {_text(response)}")

    def _on_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    def abort(self) -> None:
        """Drop the connection without a word (after an error, or to give up on IDLE)."""
        self.lost.set()
        protocol = getattr(self._client, "protocol", None)
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.close()

    async def close(self) -> None:
        """LOGOUT politely; a connection that is already gone is just dropped."""
        if not self.lost.is_set():
            try:  # bounded: closing happens on the way out, often after a cancel
                await asyncio.wait_for(self._guard(self._client.logout()), CLOSE_TIMEOUT)
            except (ImapError, TimeoutError) as exc:
                log.debug("logout failed: %s", exc)
        self.abort()

    # ------------------------------------------------------------------ commands

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        """Await a command, failing at once with ConnectionLost if the connection drops."""
        if self.lost.is_set():
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: close it, or Python warns it was not awaited
            raise ConnectionLost("the IMAP connection is closed")
        command = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({command, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when we are cancelled: nothing may be left waiting on the connection
            lost.cancel()
            if not command.done():
                command.cancel()
        # The drop won the race: cancel() above only *requests* the command's cancellation,
        # so it is not done yet (its result() would raise InvalidStateError).
        if not command.done() or command.cancelled():
            raise ConnectionLost("the IMAP connection dropped")
        try:
            return command.result()
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            self.abort()  # the protocol state is unknown now: never reuse the connection
            raise ConnectionLost(f"IMAP command failed: {type(exc).__name__} {exc}") from exc

    async def _ok(self, awaitable: Awaitable[Any], what: str) -> Any:
        response = await self._guard(awaitable)
        if response.result != "OK":
            raise ImapError(f"{what}: {response.result} {_text(response)}")
        return response

    async def select(self, folder: str) -> FolderStatus:
        response = await self._ok(self._client.select(quote_mailbox(folder)), f"SELECT {folder}")
        self.selected = folder
        try:
            return parse_select(response.lines)
        except ValueError as exc:
            raise ImapError(f"folder {folder}: {exc}") from exc

    async def uid_search(self, *criteria: str) -> list[int]:
        protocol = self._client.protocol
        search = protocol.search(*criteria, charset=None, by_uid=True)
        response = await self._ok(asyncio.wait_for(search, COMMAND_TIMEOUT), "UID SEARCH")
        return parse_search(response.lines)

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above `last_uid` in the selected folder ("n:*" includes the highest UID even
        when it is below n, hence the filter)."""
        return [uid for uid in await self.uid_search("UID", f"{last_uid + 1}:*") if uid > last_uid]

    async def find_message_id(self, message_id: str) -> list[int]:
        return await self.uid_search("HEADER", "Message-ID", quote_string(message_id))

    async def fetch(self, uids: Sequence[int]) -> tuple[list[Fetched], list[int], set[int]]:
        """The messages with these UIDs, the UIDs the server could not return, and the UIDs
        flagged \\Answered.

        UIDs missing from a complete (OK) answer were expunged meanwhile: they are gone, not
        missed. Missing from a NO answer, the server failed to read them: the caller keeps a
        placeholder so they are never silently lost.
        """
        protocol = self._client.protocol
        command = _Fetch(
            protocol.new_tag(),
            uid_set(uids),
            FETCH_ITEMS,
            prefix="UID",
            loop=protocol.loop,
            timeout=COMMAND_TIMEOUT,
        )
        response = await self._guard(protocol.execute(command))
        fetched, bodiless = parse_fetch(response.lines)
        answered = answered_uids(response.lines)
        if response.result not in ("OK", "NO"):
            raise ImapError(f"UID FETCH: {response.result} {_text(response)}")
        returned = {item.uid for item in fetched}
        expunged = response.result == "OK" or _EXPUNGE_ISSUED.search(_text(response))
        unreadable = bodiless if expunged else set(uids)
        failed = [uid for uid in uids if uid in unreadable and uid not in returned]
        return fetched, failed, answered

    async def special_sent_folder(self) -> str | None:
        """The folder the server flags `\\Sent` (RFC 6154), or None: LIST with RETURN
        (SPECIAL-USE) where offered (LIST-EXTENDED), else a plain LIST, whose flags servers
        that know special use (Dovecot, Gmail, Exchange) include anyway."""
        protocol = self._client.protocol
        if self._client.has_capability("SPECIAL-USE") and self._client.has_capability(
            "LIST-EXTENDED"
        ):
            args: tuple[str, ...] = ('""', '"*"', "RETURN", "(SPECIAL-USE)")
        else:
            args = ('""', '"*"')
        command = aioimaplib.Command("LIST", protocol.new_tag(), *args, loop=protocol.loop)
        response = await self._ok(protocol.execute(command), "LIST")
        return sent_folder_in_list(response.lines)

    async def append(self, folder: str, raw: bytes, flags: str = "\\Seen") -> None:
        call = self._client.append(raw, mailbox=quote_mailbox(folder), flags=flags)
        await self._ok(call, f"APPEND to {folder}")

    # ------------------------------------------------------------------ IDLE

    async def idle(self, timeout: float) -> bool:
        """IDLE until the server reports new mail or `timeout` passes; True if mail came.

        IDLE is always ended (DONE, and the IDLE command's completion awaited) before this
        returns: aioimaplib would otherwise interleave the next command with it.
        """
        client = self._client
        if not client.has_capability("IDLE"):
            await asyncio.sleep(min(timeout, POLL_WITHOUT_IDLE))
            return True  # no way to know: look
        idle_task = await self._guard(client.idle_start(timeout=timeout))
        try:
            return await self._wait_push(timeout)
        finally:
            if not self.lost.is_set():
                client.idle_done()
                await self._guard(asyncio.wait_for(idle_task, COMMAND_TIMEOUT))

    async def _wait_push(self, timeout: float) -> bool:
        queue = self._client.protocol.idle_queue
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            try:
                lines = await asyncio.wait_for(self._guard(queue.get()), left)
            except TimeoutError:
                return False
            if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                return False
            if exists_pushed(lines):
                return True
        return False


def _text(response: Any) -> str:
    lines = [line for line in response.lines if isinstance(line, bytes)]
    return lines[-1].decode("utf-8", "replace") if lines else ""
