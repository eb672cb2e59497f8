"""A local Slack (Web API + Socket Mode) that the real slack-sdk talks to in tests."""

from tests.slack.server import DEFAULT_SCOPES, LocalSlack, SlackError

__all__ = ["DEFAULT_SCOPES", "LocalSlack", "SlackError"]
