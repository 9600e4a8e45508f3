"""Receivers of alert notifications: console, email (SMTP) and Slack incoming webhooks.

Each notifier's ``send`` either returns (the receiver accepted the message) or raises
:class:`~pipeline.errors.AlertDeliveryError` whose ``retryable`` tells the dispatcher whether a
later attempt may succeed.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from pipeline.config import Settings
from pipeline.errors import AlertDeliveryError

SLACK_SECTION_LIMIT = 3000  # characters per section text block (Slack Block Kit limit)
SLACK_MAX_BLOCKS = 50


@dataclass
class Message:
    """A rendered notification: a subject line, plain text, and optional HTML."""

    subject: str
    text: str
    html: str | None = None
    key: str | None = None  # the outbox idempotency key; becomes the email Message-ID


class Notifier(Protocol):
    """Anything that can deliver a :class:`Message`."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver or raise :class:`AlertDeliveryError`."""


class ConsoleNotifier:
    """Writes notifications to standard output (the default channel)."""

    name = "console"

    def __init__(self, write: Callable[[str], object] | None = None):
        self._write = write or (lambda s: print(s, file=sys.stdout, flush=True))

    def send(self, message: Message) -> None:
        """Print the subject and the text."""
        self._write(f"ALERT {message.subject}\n{message.text}")


class SlackNotifier:
    """Posts to a Slack incoming webhook (https://api.slack.com/messaging/webhooks)."""

    name = "slack"

    def __init__(self, webhook_url: str, *, client: httpx.Client | None = None, timeout_s: float = 10):
        self._url = webhook_url
        self._client = client or httpx.Client(timeout=timeout_s)

    def send(self, message: Message) -> None:
        """POST text plus section blocks (each under 3,000 characters, at most 50 blocks).

        Raises:
            AlertDeliveryError: retryable on timeouts, 429 and 5xx; final on other 4xx.
        """
        body = message.text
        chunks = [body[i:i + SLACK_SECTION_LIMIT] for i in range(0, len(body), SLACK_SECTION_LIMIT)]
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}}]
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]
        payload = {"text": f"{message.subject}\n{body}"[:40000], "blocks": blocks[:SLACK_MAX_BLOCKS]}
        try:
            response = self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"slack: {type(exc).__name__}: {exc}", receiver="slack",
                                     retryable=True) from exc
        if response.status_code == 200:
            return
        retryable = response.status_code == 429 or response.status_code >= 500
        hinted = response.headers.get("retry-after", "")
        raise AlertDeliveryError(
            f"slack: HTTP {response.status_code} {response.text[:200]}", receiver="slack",
            retryable=retryable, retry_after=float(hinted) if hinted.strip().isdigit() else None,
        )


class EmailNotifier:
    """Sends email over SMTP: port 465 implicit TLS, otherwise STARTTLS when offered (587, 25)."""

    name = "email"

    def __init__(self, *, host: str, port: int, sender: str, recipients: list[str],
                 user: str = "", password: str = "", timeout_s: float = 15):
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.user, self._password, self.timeout_s = user, password, timeout_s

    def send(self, message: Message) -> None:
        """Send a multipart (plain text + HTML) message.

        Raises:
            AlertDeliveryError: final for authentication or recipient refusal; retryable for
                connection problems and temporary (4xx) SMTP replies.
        """
        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        if message.key:
            # A crash between "sent" and "recorded" re-sends once on the next run; the same
            # Message-ID lets mail clients and archives collapse the copy (RFC 5322 3.6.4).
            msg["Message-ID"] = f"<{message.key}@tonewatch>"
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        context = ssl.create_default_context()
        try:
            if self.port == 465:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                smtp.ehlo()
                if self.port != 465 and smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self._password)
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise AlertDeliveryError(f"email: authentication failed for {self.user!r} at "
                                     f"{self.host}:{self.port}", receiver="email",
                                     retryable=False, channel_down=True) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise AlertDeliveryError(f"email: {self.host}:{self.port} does not offer AUTH "
                                     "(check the port and TLS settings)", receiver="email",
                                     retryable=False, channel_down=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise AlertDeliveryError(f"email: {self.host}:{self.port} replied {exc.smtp_code}",
                                     receiver="email", retryable=400 <= exc.smtp_code < 500) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise AlertDeliveryError(f"email: recipients refused: {list(exc.recipients)}",
                                     receiver="email", retryable=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise AlertDeliveryError(f"email: cannot deliver via {self.host}:{self.port}: {exc}",
                                     receiver="email", retryable=True) from exc


def configured_notifiers(settings: Settings) -> dict[str, Notifier]:
    """Notifiers available under these settings: console always, email and Slack when set."""
    notifiers: dict[str, Notifier] = {"console": ConsoleNotifier()}
    if settings.slack_webhook_url.get_secret_value():
        notifiers["slack"] = SlackNotifier(settings.slack_webhook_url.get_secret_value())
    if settings.smtp_host and settings.smtp_to:
        notifiers["email"] = EmailNotifier(
            host=settings.smtp_host, port=settings.smtp_port,
            sender=settings.smtp_from or f"tonewatch@{settings.smtp_host}",
            recipients=settings.smtp_to, user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value(),
        )
    return notifiers


def expand_receivers(receivers: list[str], available: list[str]) -> list[str]:
    """Resolve ``default`` to every available channel; keep explicit names (even unavailable)."""
    out: list[str] = []
    for receiver in receivers:
        for name in (available if receiver == "default" else [receiver]):
            if name not in out:
                out.append(name)
    return out
