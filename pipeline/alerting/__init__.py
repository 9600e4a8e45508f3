"""Alert delivery: notifiers (console, email, Slack) and the outbox dispatcher."""
