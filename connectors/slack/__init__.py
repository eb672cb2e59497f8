"""The Slack channel: Web API + Socket Mode in, thread replies out (see connector.py).

Kept empty on purpose: importing a settings model must not load slack_sdk."""
