"""What `check-config --secrets` does: read every secret, then connect as the sync would.

`secret_problems(config, path)` returns one plain line per failing part of each account,
`FILE: accounts[I] (NAME): PART: what failed — the fix`, and nothing when all is well:
- a secret that cannot be read (`accounts[I].KEY: ...`, as before connecting was checked);
- IMAP: connect (and TLS or STARTTLS), LOGIN, then SELECT of each folder the account lists;
- SMTP: connect (and TLS), EHLO, STARTTLS when `smtp_security = "starttls"`, AUTH as the
  user `smtp.send` logs in as (it always does);
- Slack: `auth.test` with the bot token, the bot scopes the token lacks (read from the
  `x-oauth-scopes` header of that answer), the listed `channels` the bot is not a member of
  (`users.conversations`), and `apps.connections.open` with the app token.

The accounts are checked concurrently, each part within CHECK_TIMEOUT seconds. Nothing is
sent, written or stored; every line is scrubbed of the secrets read, so a server that echoes
one back cannot make us print it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import aiosmtplib
from slack_sdk.errors import SlackApiError, SlackClientError

from connectors.email.imap.session import ConnectionLost, ImapError, ImapSession, LoginRefused
from connectors.email.settings import ImapAccountSettings
from connectors.email.tls import tls_context
from connectors.secrets import SecretError, SecretSource
from connectors.slack.api import JSON, SlackApi, missing_scopes
from connectors.slack.ratelimit import RateLimiter
from connectors.slack.settings import SlackAccountSettings
from console import logs
from console.config import FrontdeskConfig

CHECK_TIMEOUT = 15.0  # seconds for each part (connect, log in, ...): a check never hangs
Account = ImapAccountSettings | SlackAccountSettings
T = TypeVar("T")


def secret_problems(config: FrontdeskConfig, path: Path) -> list[str]:
    """Every failing part of every account, in account order; [] when all connect."""
    found = asyncio.run(_check_all(config.accounts))
    return [logs.scrub_secrets(f"{path}: {line}") for line in found]


async def _check_all(accounts: list[Account]) -> list[str]:
    per_account = await asyncio.gather(
        *(_check_account(index, account) for index, account in enumerate(accounts))
    )
    return [line for lines in per_account for line in lines]


async def _check_account(index: int, account: Account) -> list[str]:
    secrets: dict[str, str] = {}
    found: list[str] = []
    for key, source in account.secret_sources():
        try:
            secrets[key] = await asyncio.to_thread(source.read)
        except SecretError as exc:
            found.append(f"accounts[{index}].{key}: {exc}")
    if found:
        return found  # nothing to connect with
    label = f"accounts[{index}] ({account.name})"
    if isinstance(account, ImapAccountSettings):
        password = next(iter(secrets.values()))
        parts = [_imap(account, password, account.password), _smtp(account, password)]
    else:
        parts = _slack(account, secrets)
    return [f"{label}: {problem}" for problem in await asyncio.gather(*parts) if problem]


async def _within(what: str, where: str, step: Awaitable[None]) -> str | None:
    """Run one part; its problem, or None. A part that hangs is a problem too."""
    try:
        await asyncio.wait_for(step, CHECK_TIMEOUT)
    except TimeoutError:
        return f"{what}: no answer from {where} within {CHECK_TIMEOUT:g} s"
    except _Failed as failed:
        return f"{what}: {failed}"
    except Exception as exc:  # a library's surprise: still one line, never a traceback
        return f"{what}: {where}: {type(exc).__name__}: {exc}"
    return None


class _Failed(Exception):
    """One part failed; the message says what and the fix."""


# ---------------------------------------------------------------------------------- IMAP


def _imap(s: ImapAccountSettings, password: str, source: SecretSource) -> Awaitable[str | None]:
    where = f"{s.imap_host}:{s.imap_port}"

    async def step() -> None:
        session = await _imap_login(s, password, source, where)
        try:
            for folder in s.folders:
                try:
                    await session.select(folder)
                except ImapError as exc:
                    raise _Failed(
                        f"folder {folder!r} cannot be opened ({exc}) — correct `folders`"
                        " (names as the mail server lists them)"
                    ) from exc
        finally:
            await session.close()

    return _within("IMAP", where, step())


async def _imap_login(
    s: ImapAccountSettings, password: str, source: SecretSource, where: str
) -> ImapSession:
    try:
        return await ImapSession.open(s, password)
    except LoginRefused as exc:
        raise _Failed(
            f"{exc} — check `username` and the password from {source.describe()}"
        ) from exc
    except ConnectionLost as exc:
        raise _Failed(
            f"{_connect_detail(exc, where)} — check imap_host, imap_port and"
            f" imap_security (now {s.imap_security!r}){_ca_hint(exc, s.imap_cafile, 'imap_cafile')}"
        ) from exc
    except ImapError as exc:
        raise _Failed(f"{exc} — check imap_security (now {s.imap_security!r})") from exc


def _connect_detail(exc: Exception, where: str) -> str:
    text = str(exc)
    return text if where in text else f"cannot talk to {where}: {text}"


def _ca_hint(problem: BaseException, cafile: str | None, key: str) -> str:
    """Where the CA comes from, when TLS is what failed."""
    if not any(word in _reason(problem) for word in ("SSL", "certificate", "TLS")):
        return ""
    if cafile:
        return f"; the certificate must be signed by the CA in {key} = {cafile!r}"
    return f"; a server with a private CA needs its PEM bundle in {key}"


# ---------------------------------------------------------------------------------- SMTP


def _smtp(s: ImapAccountSettings, password: str) -> Awaitable[str | None]:
    """As `connectors.email.smtp.send` connects (same host, port, TLS mode, CA and user), one
    command at a time so the line can say which one failed."""
    where = f"{s.smtp_host}:{s.smtp_port}"
    user = s.smtp_username or s.username
    client = aiosmtplib.SMTP(
        hostname=s.smtp_host,
        port=s.smtp_port,
        use_tls=s.smtp_security == "tls",
        start_tls=False,  # done below, as its own step
        tls_context=None if s.smtp_security == "none" else tls_context(s.smtp_cafile),
        timeout=CHECK_TIMEOUT,
    )

    async def step() -> None:
        try:
            await _smtp_steps(client, s, user, password, where)
        finally:
            client.close()

    return _within("SMTP", where, step())


async def _smtp_steps(
    client: aiosmtplib.SMTP, s: ImapAccountSettings, user: str, password: str, where: str
) -> None:
    security = f"smtp_security (now {s.smtp_security!r})"
    await _smtp_command(
        client.connect(),
        f"cannot connect to {where}",
        f"check smtp_host, smtp_port and {security}",
        s.smtp_cafile,
    )
    await _smtp_command(client.ehlo(), "EHLO refused", "check smtp_host and smtp_port")
    if s.smtp_security == "starttls":
        if not client.supports_extension("starttls"):
            raise _Failed(
                f"{where} does not offer STARTTLS — use the submission port that does,"
                ' or smtp_security = "tls" on its TLS port (465)'
            )
        await _smtp_command(
            client.starttls(),
            "STARTTLS failed",
            f"check {security}",
            s.smtp_cafile,
        )
    await _smtp_command(
        client.login(user, password),
        f"AUTH as {user} failed",
        "check smtp_username (default: username) and the password",
    )
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()  # all was checked; a rude goodbye is no problem of ours


async def _smtp_command(
    call: Awaitable[object], what: str, fix: str, cafile: str | None = None
) -> None:
    """`cafile`: TLS may be what fails here; the fix then says where the CA comes from."""
    try:
        await call
    except aiosmtplib.SMTPResponseException as exc:
        raise _Failed(f"{what}: {exc.code} {exc.message} — {fix}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        hint = _ca_hint(exc, cafile, "smtp_cafile")
        raise _Failed(f"{what}: {_reason(exc)} — {fix}{hint}") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text


# ---------------------------------------------------------------------------------- Slack


def _slack(s: SlackAccountSettings, secrets: dict[str, str]) -> list[Awaitable[str | None]]:
    """The bot token (auth.test and its scopes) and the app token (apps.connections.open,
    what Socket Mode does first), checked apart: one refused token says nothing of the other."""
    bot_key = next(key for key in secrets if key.startswith("bot_token"))
    app_key = next((key for key in secrets if key.startswith("app_token")), None)

    async def bot() -> None:
        async with SlackApi.open(s.api_url, secrets[bot_key], RateLimiter({}), 0) as api:
            await _slack_call("auth.test", s, lambda: _scopes(api), f"the bot token ({bot_key})")
            if s.channels:
                who = f"the bot token ({bot_key})"
                member_of = await _slack_call("users.conversations", s, api.conversations, who)
                _require_channels(s.channels, member_of)

    async def app(key: str) -> None:
        async with SlackApi.open(s.api_url, secrets[bot_key], RateLimiter({}), 0) as api:
            open_socket = api.client.apps_connections_open
            await _slack_call(
                "apps.connections.open",
                s,
                lambda: open_socket(app_token=secrets[key]),
                f"the app token ({key}; Socket Mode)",
            )

    parts: list[Awaitable[str | None]] = [_within("Slack", s.api_url, bot())]
    if app_key is not None:
        parts.append(_within("Slack", s.api_url, app(app_key)))
    return parts


async def _scopes(api: SlackApi) -> None:
    # Slack names the scopes a token was granted in the `x-oauth-scopes` header of every Web
    # API answer (https://api.slack.com/authentication/oauth-v2; recorded as e.g.
    # 'x-oauth-scopes': 'chat:write,files:read,files:write' in slack-sdk's
    # docs/english/tutorial/uploading-files.md). No header: nothing can be said of them.
    granted = (await api.auth_test())["scopes"]
    lacking = missing_scopes(granted) if granted else []
    if lacking:
        raise _Failed(
            f"the bot token lacks the scopes {', '.join(lacking)} — add them under OAuth &"
            " Permissions (slack-app-manifest.yml lists them all) and reinstall the app"
        )


def _require_channels(configured: list[str], member_of: list[JSON]) -> None:
    """Each of `channels` (an id, a name or #name) must be one the bot is a member of, as
    the connector matches them (connectors/slack.py, `wanted`); else sync reads nothing there."""
    ids = {str(c.get("id")) for c in member_of if c.get("is_member", True)}
    names = {str(c.get("name")) for c in member_of if c.get("is_member", True) and c.get("name")}
    missing = [c for c in configured if c not in ids and c.removeprefix("#") not in names]
    if missing:
        raise _Failed(
            f"the bot is not a member of {', '.join(missing)} (or no such channel) — in Slack,"
            " /invite the app in each, or correct `channels` (ids or names)"
        )


async def _slack_call(
    method: str, s: SlackAccountSettings, call: Callable[[], Awaitable[T]], token: str
) -> T:
    try:
        return await call()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        status = exc.response.status_code
        said = error or f"HTTP {status}"
        raise _Failed(f"{method} refused {token}: {said} — {_slack_fix(str(said), s)}") from exc
    except (SlackClientError, aiohttp.ClientError, OSError) as exc:
        raise _Failed(
            f"cannot reach {s.api_url} ({_reason(exc)}) — check api_url and the network"
        ) from exc


def _slack_fix(error: str, s: SlackAccountSettings) -> str:
    if error in ("invalid_auth", "not_authed", "token_revoked", "token_expired"):
        return (
            "copy the token again from the app's settings (the bot token under OAuth &"
            " Permissions, the app token under Basic Information)"
        )
    if error == "account_inactive":
        return "the app was uninstalled or its user deactivated: reinstall the app"
    if error == "not_allowed_token_type":
        return "the bot token must start with xoxb-, the app token with xapp-"
    return f"check the token and api_url (now {s.api_url!r})"
