"""A real Dovecot IMAP server for tests, started from a throwaway config under a temp dir.

Each `DovecotServer` owns one temp dir holding its config, TLS certificate, passwd-file,
Maildir, sockets and logs, and runs `dovecot -F -c CONF` as a child process in its own
process group so `stop()` can always take down the master *and* every service it forked.

The fixture side talks plain synchronous IMAP (stdlib `imaplib`): production code under test
uses aioimaplib, so the fixture deliberately shares no client code with it.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HOST = "127.0.0.1"

# As root the mail user must not be root (Dovecot refuses uid 0 for mail processes);
# 65534 (nobody/nogroup) exists everywhere and needs no account of its own.
ROOT_MODE_MAIL_UID = 65534
ROOT_MODE_MAIL_GID = 65534

# MULTIAPPEND batches: large enough that 10k messages need only ~20 round trips, small enough
# that one command (sent whole, thanks to LITERAL+) stays a few megabytes.
APPEND_BATCH = 500

_START_ATTEMPTS = 3  # free-port selection races with other processes: retry on a clash
_READY_TIMEOUT = 10.0
_STOP_GRACE = 0.2  # seconds the processes get to exit on SIGTERM before SIGKILL
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]")
_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")


class DovecotError(RuntimeError):
    """Dovecot did not start, or an IMAP/doveadm operation of the fixture failed."""


def find_binary(name: str) -> str | None:
    """Locate a Dovecot tool; /usr/sbin is often not on an unprivileged user's PATH."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        candidate = Path(directory) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def missing_tools() -> list[str]:
    """The executables a `DovecotServer` needs that are not installed."""
    return [name for name in ("dovecot", "doveadm", "openssl") if find_binary(name) is None]


def free_ports(count: int) -> list[int]:
    """Distinct currently unused loopback TCP ports (the caller must cope with a rare race).

    All are bound at once: probing one at a time could hand out the same port twice.
    """
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@dataclass(frozen=True)
class _Identity:
    """Who Dovecot's services and the mail user run as."""

    privileged: bool
    mail_uid: int
    mail_gid: int
    internal_user: str  # empty: keep Dovecot's defaults (Debian's dovecot/dovenull users)
    internal_group: str

    @classmethod
    def current(cls) -> _Identity:
        if os.geteuid() == 0:
            return cls(True, ROOT_MODE_MAIL_UID, ROOT_MODE_MAIL_GID, "", "")
        # Unprivileged Dovecot cannot switch users: every service and the mail user must be us,
        # and socket groups ours (it chowns some listeners to the internal group).
        me = pwd.getpwuid(os.geteuid()).pw_name
        my_group = grp.getgrgid(os.getegid()).gr_name
        return cls(False, os.geteuid(), os.getegid(), me, my_group)


class DovecotServer:
    """One Dovecot instance on free loopback ports with a single passwd-file user.

    `port` speaks plain IMAP (STARTTLS offered), `tls_port` implicit TLS with a self-signed
    certificate for 127.0.0.1/localhost whose PEM is at `cafile`.
    """

    def __init__(
        self,
        *,
        user: str = "agent@example.test",
        password: str = "fixture-password",
        idle_notify_interval: int = 2,
        root_dir: Path | None = None,
        sent_folder: str = "Sent",
    ) -> None:
        """`sent_folder`: the mailbox declared `special_use = \\Sent` (RFC 6154), e.g. Gmail's
        "[Gmail]/Sent Mail" or Exchange's "Sent Items"."""
        if ":" in user + password or "\n" in user + password:
            raise ValueError("user and password must not contain ':' or newlines (passwd-file)")
        self.host = HOST
        self.user = user
        self.password = password
        self.port = 0
        self.tls_port = 0
        self._idle_notify_interval = idle_notify_interval
        self._root_dir = root_dir
        if '"' in sent_folder or "\n" in sent_folder:
            raise ValueError("the Sent folder name must not contain quotes or newlines")
        self._sent_folder = sent_folder
        self._identity = _Identity.current()
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: weakref.finalize[[int, Path], DovecotServer] | None = None
        self._final_logs: str | None = None

    # ----------------------------------------------------------------- paths

    @property
    def pid(self) -> int | None:
        """The master's PID (also its process group id), None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def base_dir(self) -> Path:
        if self._base is None:
            raise DovecotError("DovecotServer has not been started")
        return self._base

    @property
    def config_path(self) -> Path:
        return self.base_dir / "dovecot.conf"

    @property
    def cafile(self) -> str:
        """PEM of the self-signed server certificate: pass it to `ssl.create_default_context`."""
        return str(self.base_dir / "tls" / "cert.pem")

    @property
    def log_path(self) -> Path:
        return self.base_dir / "dovecot.log"

    @property
    def mail_home(self) -> Path:
        return self.base_dir / "home"

    # ------------------------------------------------------------- lifecycle

    def start(self) -> DovecotServer:
        if self._proc is not None:
            raise DovecotError("DovecotServer is already running")
        self._base = self._make_base_dir()
        try:
            self._write_certificate()
            self._write_users()
            self._make_mail_home()
            self._spawn_on_free_ports()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Dovecot and every process it forked, keep the logs, delete the temp dir."""
        self._terminate()
        if self._base is not None:
            self._final_logs = self._read_logs()
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def restart(self) -> None:
        """Stop and start again on the same ports and mail store (a server outage)."""
        self._terminate()
        self._spawn(self.port, self.tls_port)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def logs(self) -> str:
        """Dovecot's log plus anything it wrote to stderr before its logging was up."""
        if self._base is None:
            return self._final_logs or ""
        return self._read_logs()

    def _read_logs(self) -> str:
        parts = []
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.base_dir / name
            if path.exists():
                parts.append(f"--- {name} ---\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def _make_base_dir(self) -> Path:
        base = Path(tempfile.mkdtemp(prefix="frontdesk-dovecot-", dir=self._root_dir))
        if self._identity.privileged:
            # mkdtemp makes 0700; the mail user (65534) and the login user must get through.
            base.chmod(0o755)
            _require_traversable(base)
        return base

    def _write_certificate(self) -> None:
        tls = self.base_dir / "tls"
        tls.mkdir()
        # An EC key is generated in milliseconds, an RSA one can take a noticeable fraction of
        # a second; the SAN lets clients verify the certificate against 127.0.0.1 by name.
        _run(
            [
                _tool("openssl"),
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(tls / "key.pem"),
                "-out",
                str(tls / "cert.pem"),
            ]
        )

    def _write_users(self) -> None:
        ident = self._identity
        line = (
            f"{self.user}:{{PLAIN}}{self.password}:{ident.mail_uid}:{ident.mail_gid}"
            f"::{self.mail_home}::\n"
        )
        users = self.base_dir / "users"
        users.write_text(line)
        # The auth process runs as Dovecot's internal user (not root): it must read the file.
        # The credentials are throwaway test ones, so world-readable is fine.
        users.chmod(0o644)

    def _make_mail_home(self) -> None:
        self.mail_home.mkdir(mode=0o700)
        if self._identity.privileged:
            os.chown(self.mail_home, self._identity.mail_uid, self._identity.mail_gid)

    def _spawn_on_free_ports(self) -> None:
        for attempt in range(_START_ATTEMPTS):
            try:
                self._spawn(*free_ports(2))
                return
            except DovecotError:
                # Another process may have grabbed a port between probe and bind; only that
                # is worth a retry, anything else is a real configuration error.
                if attempt == _START_ATTEMPTS - 1 or "Address already in use" not in self.logs():
                    raise

    def _spawn(self, port: int, tls_port: int) -> None:
        self.port, self.tls_port = port, tls_port
        self.config_path.write_text(self._config())
        stderr = (self.base_dir / "dovecot.stderr").open("ab")
        with stderr:
            self._proc = subprocess.Popen(
                [_tool("dovecot"), "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                # Own process group: stop() can signal the master and all of its children.
                start_new_session=True,
            )
        # Safety net for code that forgets stop() (bench scripts, a crashed fixture): the
        # process group is killed and the temp dir removed when this object is collected or
        # the interpreter exits.
        self._reaper = weakref.finalize(self, _abandon, self._proc.pid, self.base_dir)
        try:
            self._wait_ready()
        except BaseException:
            self._terminate()
            raise

    def _wait_ready(self) -> None:
        """Wait for the IMAP greeting on the plain port.

        The master binds every listener before it serves any (and exits if one fails), so a
        greeting on `port` means `tls_port` is up too; the greeting, not just an accepted TCP
        connection, proves that imap-login and its config actually work.
        """
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise DovecotError(f"dovecot exited during start-up\n{self.logs()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2.0) as sock:
                    greeting = sock.recv(512)
                if greeting.startswith(b"* OK"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DovecotError(f"dovecot not ready after {_READY_TIMEOUT}s\n{self.logs()}")
            time.sleep(0.01)

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if self._reaper is not None:
            self._reaper.detach()
            self._reaper = None
        if proc is None:
            return
        # SIGTERM to the master alone costs ~1 s: it waits for the services it signals. The
        # whole group at once usually exits in a few ms; when a service is mid-exit the master
        # still waits ~1 s, and a throwaway test server is not worth that: SIGKILL it.
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _reap_group(proc.pid)

    # ---------------------------------------------------------------- config

    def _config(self) -> str:
        base = self.base_dir
        ident = self._identity
        identity_lines = ""
        login_chroot = ""
        if not ident.privileged:
            # chroot() needs root; the users Dovecot would switch to must be the invoking one.
            identity_lines = (
                f"default_internal_user = {ident.internal_user}\n"
                f"default_login_user = {ident.internal_user}\n"
                f"default_internal_group = {ident.internal_group}\n"
            )
            login_chroot = "  chroot =\n"
        return f"""\
# Written by tests/servers/dovecot.py. Self-contained: no system conf.d is read.
base_dir = {base}/run
state_dir = {base}/state
instance_name = dovecot-frontdesk-test
log_path = {self.log_path}
protocols = imap
listen = {self.host}
{identity_lines}
ssl = yes
ssl_cert = <{self.cafile}
ssl_key = <{base}/tls/key.pem

# Tests log in over plain IMAP too, and a wrong password must fail at once: the default
# 2 s failure delay plus anvil's growing per-IP penalty would also slow the next good login.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
first_valid_uid = 1

# auth_failure_delay = 0 still holds a failed login until the auth process's 500 ms failure
# timer fires. A "nodelay" field answers at once, but Dovecot drops the fields of a passdb
# that failed, so this first passdb (which authenticates nobody: noauthenticate) sets it
# and its fields survive the real passdb's failure.
passdb {{
  driver = static
  args = nopassword noauthenticate nodelay=yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
}}

# LAYOUT=fs: folder names may contain '.', as on real servers (Maildir++ forbids it).
# INBOX in its own directory, so recreate_folder("INBOX") can wipe exactly that mailbox.
mail_location = maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX
mail_fsync = never
# Fallback poll for IDLE if inotify misses a change; pushes normally arrive ~0.5 s after.
mailbox_idle_check_interval = 1 secs

namespace inbox {{
  inbox = yes
  separator = /
  mailbox "{self._sent_folder}" {{
    auto = subscribe
    special_use = \\Sent
  }}
}}

protocol imap {{
  # Tests open several clients from one IP; the default of 10 would refuse logins.
  mail_max_userip_connections = 100
  # How often an idling client gets "* OK Still here": small, so clients must cope with it.
  imap_idle_notify_interval = {self._idle_notify_interval} secs
}}

service imap-login {{
{login_chroot}  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port}
    ssl = yes
  }}
}}

service anvil {{
{login_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    # ------------------------------------------------------------ IMAP side

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib IMAP connection on the plain port, always logged out."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str] | None = None,
        date: datetime | None = None,
    ) -> int:
        """APPEND one message as-is (no line-ending rewriting) and return its UID."""
        return self.append_many(folder, [raw], flags=flags, date=date)[0]

    def append_many(
        self,
        folder: str,
        messages: Iterable[bytes],
        *,
        flags: Sequence[str] | None = None,
        date: datetime | None = None,
    ) -> list[int]:
        """APPEND many messages on one connection and return their UIDs in order.

        Uses MULTIAPPEND with non-synchronising literals (LITERAL+): a batch of messages is
        one command and one round trip, and Dovecot saves it as one transaction.
        """
        uids: list[int] = []
        with self._session() as imap:
            _require_capabilities(imap, "MULTIAPPEND", "LITERAL+")
            batch: list[bytes] = []
            for raw in messages:
                batch.append(raw)
                if len(batch) == APPEND_BATCH:
                    uids += _multiappend(imap, folder, batch, flags, date)
                    batch = []
            if batch:
                uids += _multiappend(imap, folder, batch, flags, date)
        return uids

    def create_folder(self, name: str) -> None:
        """CREATE and SUBSCRIBE, like a mail client creating a folder."""
        with self._session() as imap:
            _check(imap.create(_quote(name)), f"CREATE {name}")
            _check(imap.subscribe(_quote(name)), f"SUBSCRIBE {name}")

    def delete_folder(self, name: str) -> None:
        with self._session() as imap:
            _check(imap.delete(_quote(name)), f"DELETE {name}")

    def recreate_folder(self, name: str) -> None:
        """Empty the folder and give it a new UIDVALIDITY; its UIDs restart at 1.

        Other folders are deleted and created again over IMAP, as a user would. INBOX cannot be
        deleted over IMAP, so, as when a server rebuilds a mailbox, logged-in sessions are
        dropped first (kill_connections) and then its Maildir (not its child folders) is removed
        on disk; Dovecot re-creates it on next access with a fresh UIDVALIDITY.

        Note that a session with another folder selected while it is re-created gets an untagged
        "NO Internal error" from Dovecot: that is real Dovecot behaviour, not the fixture's.
        """
        if name.upper() != "INBOX":
            self.delete_folder(name)
            self.create_folder(name)
            return
        # A live session would write its stale index of the old INBOX back into the new one.
        self.kill_connections()
        inbox = self.mail_home / "Maildir" / "INBOX"
        for entry in inbox.iterdir() if inbox.exists() else []:
            if entry.is_dir() and entry.name not in ("cur", "new", "tmp"):
                continue  # a child folder such as INBOX/Archive
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def uidvalidity(self, folder: str) -> int:
        with self._session() as imap:
            data = _check(imap.status(_quote(folder), "(UIDVALIDITY)"), f"STATUS {folder}")
        match = _UIDVALIDITY_RE.search(_first_bytes(data))
        if match is None:
            raise DovecotError(f"no UIDVALIDITY in STATUS reply {data!r}")
        return int(match.group(1))

    def uids(self, folder: str) -> list[int]:
        with self._session() as imap:
            _check(imap.select(_quote(folder), readonly=True), f"EXAMINE {folder}")
            data = _check(imap.uid("SEARCH", "ALL"), "UID SEARCH")
        return [int(uid) for uid in _first_bytes(data).split()]

    def folders(self) -> list[str]:
        """Every folder name (LIST "" "*"), in the server's order."""
        with self._session() as imap:
            data = _check(imap.list('""', "*"), "LIST")
        names = []
        for line in data:
            if isinstance(line, bytes):
                # (\HasNoChildren) "/" Name  -- the name is last, quoted if it needs to be
                name = line.rsplit(b' "/" ', 1)[-1].decode()
                names.append(name[1:-1] if name.startswith('"') else name)
        return names

    def fetch_raw(self, folder: str, uid: int) -> bytes:
        """The message exactly as the server returns BODY[] (Dovecot sends CRLF line ends)."""
        with self._session() as imap:
            _check(imap.select(_quote(folder), readonly=True), f"EXAMINE {folder}")
            data = _check(imap.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"UID FETCH {uid}")
        for item in data:
            if isinstance(item, tuple):
                body: bytes = item[1]
                return body
        raise KeyError(f"no message with UID {uid} in {folder}")

    # --------------------------------------------------------- doveadm side

    def doveadm(self, *args: str) -> str:
        """Run `doveadm -c CONF ARGS...` against this instance and return its stdout."""
        return _run([_tool("doveadm"), "-c", str(self.config_path), *args])

    def session_pids(self) -> list[int]:
        """PIDs of the fixture user's logged-in IMAP processes, as anvil tracks them."""
        out = self.doveadm("who", "-1", self.user)
        # username proto pid ip -- the first line is the header
        return [int(line.split()[2]) for line in out.splitlines()[1:] if line.strip()]

    def kill_connections(self, timeout: float = 5.0) -> None:
        """Drop every logged-in client connection and wait until their processes are gone.

        `doveadm kick` SIGTERMs the user's imap processes; clients get "* BYE Server shutting
        down." and then EOF. Connections that have not logged in yet are not touched: use
        `restart()` for a whole-server outage.
        """
        pids = self.session_pids()
        if not pids:
            return
        self.doveadm("kick", self.user)
        deadline = time.monotonic() + timeout
        while any(_pid_alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise DovecotError(f"imap processes {pids} still alive {timeout}s after kick")
            time.sleep(0.01)


# ------------------------------------------------------------------ helpers


def _tool(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise DovecotError(f"{name} is not installed (apt-get install dovecot-imapd openssl)")
    return path


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise DovecotError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def _require_traversable(path: Path) -> None:
    """As root, the mail user (65534) must be able to walk from / down to its Maildir."""
    for parent in [path, *path.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise DovecotError(
                f"{parent} is not traversable by other users, so Dovecot's mail user cannot "
                f"reach {path}; pass root_dir= or set TMPDIR to a world-traversable directory"
            )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _abandon(pgid: int, base: Path) -> None:
    _kill_group(pgid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, from /proc.

    Zombies are skipped: once the master is gone its dead children belong to init, which
    reaps them in its own time, and they can neither run nor be killed.
    """
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == pgid and state != "Z":
            members.append(int(stat_file.parent.name))
    return members


def _reap_group(pgid: int) -> None:
    """Make sure nothing Dovecot forked outlives it: SIGKILL stragglers, wait up to 2 s."""
    deadline = time.monotonic() + 2.0
    while _group_members(pgid):
        _kill_group(pgid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise DovecotError(f"Dovecot processes {_group_members(pgid)} survived SIGKILL")
        time.sleep(0.01)


def _quote(name: str) -> str:
    """imaplib sends mailbox names verbatim: quote them so spaces and '/' survive."""
    if not name.isascii():
        # Mailbox names are modified UTF-7 on the wire ("Entw&APw-rfe"); the fixture passes
        # names through as they are, so a caller wanting non-ASCII must encode it.
        raise ValueError(f"folder name {name!r}: pass it modified-UTF-7 encoded (RFC 3501 5.1.3)")
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _check(reply: tuple[str, Sequence[object]], what: str) -> Sequence[object]:
    status, data = reply
    if status != "OK":
        raise DovecotError(f"{what} failed: {status} {data!r}")
    return data


def _first_bytes(data: Sequence[object]) -> bytes:
    first = data[0] if data else b""
    return first if isinstance(first, bytes) else b""


def _require_capabilities(imap: imaplib.IMAP4, *names: str) -> None:
    # imaplib keeps the pre-login list; Dovecot announces MULTIAPPEND only after LOGIN.
    capabilities = _first_bytes(_check(imap.capability(), "CAPABILITY")).decode().split()
    missing = [name for name in names if name not in capabilities]
    if missing:
        raise DovecotError(f"server lacks {missing}; capabilities: {capabilities}")


def _multiappend(
    imap: imaplib.IMAP4,
    folder: str,
    batch: Sequence[bytes],
    flags: Sequence[str] | None,
    date: datetime | None,
) -> list[int]:
    """Send one MULTIAPPEND command of LITERAL+ literals and parse APPENDUID from its reply."""
    tag = b"FDAPPEND"
    options = b""
    if flags:
        options += b" (" + " ".join(flags).encode() + b")"
    if date is not None:
        options += b" " + imaplib.Time2Internaldate(date).encode()
    parts = [tag + b" APPEND " + _quote(folder).encode("utf-8")]
    for raw in batch:
        parts.append(options + b" {%d+}\r\n" % len(raw) + raw)
    parts.append(b"\r\n")
    imap.send(b"".join(parts))
    while True:
        line = imap.readline()
        if not line:
            raise DovecotError("connection closed during APPEND")
        if line.startswith(tag + b" "):
            break
    if not line.startswith(tag + b" OK"):
        raise DovecotError(f"APPEND to {folder} failed: {line!r}")
    match = _APPENDUID_RE.search(line)
    if match is None:
        raise DovecotError(f"no APPENDUID in {line!r}")
    uids = _expand_uid_set(match.group(2).decode())
    if len(uids) != len(batch):
        raise DovecotError(f"APPENDUID lists {len(uids)} UIDs for {len(batch)} messages")
    return uids


def _expand_uid_set(uid_set: str) -> list[int]:
    """'3:5,9' -> [3, 4, 5, 9] (APPENDUID sets are in append order)."""
    uids: list[int] = []
    for part in uid_set.split(","):
        first, _, last = part.partition(":")
        start, end = int(first), int(last or first)
        step = 1 if end >= start else -1
        uids.extend(range(start, end + step, step))
    return uids
