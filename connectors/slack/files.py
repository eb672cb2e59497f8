"""A file shared in Slack, downloaded with the bot token, as an email attachment is saved.

Messages list their files (`files[]`, stored as attachments whose `remote_ref` is the file id);
the bytes stay on Slack. `files.info` gives the file's `url_private_download`, which answers
only with `Authorization: Bearer <bot token>` and the `files:read` scope
(https://api.slack.com/types/file#authentication); without them Slack answers its sign-in page
as HTML, which is refused here rather than saved as the file.

The token is sent only to the URL files.info returned, and only if that URL is on Slack's file
host (or the configured API host, for a local Slack): a URL taken from a message could name any
server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError

from connectors.slack.api import SlackApi
from storage.sanitize import clean_line

SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
MAX_BYTES = 100 * 1024 * 1024  # more than that is not an attachment to open from a console


class FileUnavailable(Exception):
    """The file cannot be downloaded; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class SlackFile:
    name: str
    mimetype: str
    content: bytes


async def download(
    api: SlackApi, session: aiohttp.ClientSession, api_url: str, token: str, file_id: str
) -> SlackFile:
    """The file `file_id`'s name, type and bytes; FileUnavailable when Slack will not say."""
    info = await _info(api, file_id)
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    if not _trusted(url, api_url):
        raise FileUnavailable(f"Slack gave no download address for {file_id} on its file host")
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(url, headers=headers, allow_redirects=False) as response:
        if response.status != 200 or response.content_type == "text/html":
            raise FileUnavailable(
                f"Slack would not hand over {file_id} (HTTP {response.status}, "
                f"{response.content_type}): does the bot token have files:read?"
            )
        content = await response.content.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise FileUnavailable(f"{file_id} is larger than {MAX_BYTES // 1024 // 1024} MB")
    name = clean_line(str(info.get("name") or file_id)).replace("/", "_") or file_id
    return SlackFile(name, str(info.get("mimetype") or "application/octet-stream"), content)


async def _info(api: SlackApi, file_id: str) -> dict[str, Any]:
    try:
        data = await api.call_method("files.info", file=file_id)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "missing_scope":
            message = "the bot token lacks files:read (see slack-app-manifest.yml)"
            raise FileUnavailable(message) from exc
        raise FileUnavailable(f"Slack said {error} for {file_id}") from exc
    found = data.get("file")
    if not isinstance(found, dict) or found.get("mode") in ("tombstone", "hidden_by_limit"):
        raise FileUnavailable(f"{file_id} was deleted or is hidden by the workspace's plan")
    return found


def _trusted(url: str, api_url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if parts.hostname in SLACK_FILE_HOSTS:
        return parts.scheme == "https"
    api = urlsplit(api_url)
    return (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)
