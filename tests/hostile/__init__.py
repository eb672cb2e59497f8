"""Hostile input: a corpus of crafted mail and Slack texts, generated in code (issue #8)."""
