"""Exceptions raised by tonewatch.

Every error the library raises on purpose derives from :class:`TonewatchError`; the CLI prints
those as one line and exits non-zero, and prints a traceback only for anything else (a bug)::

    TonewatchError
    ├── ConfigError                 a settings value or a config file is wrong
    ├── FeedError                   one feed could not be ingested (recorded, then skipped)
    │   ├── FeedFetchError          network, HTTP status, missing file, body too large
    │   ├── FeedParseError          the bytes are not parseable XML and no entry came out
    │   ├── NotAFeedError           a well-formed document that is not a feed (HTML, sitemap)
    │   ├── TransientFetchError     a timeout, 429 or 5xx worth retrying (the fetcher's retry
    │   │                           signal; translated to FeedFetchError when retries run out)
    │   └── AllFeedsFailedError     every feed of an ingest run failed (systemic: retry)
    ├── StorageError                the DuckDB file cannot be opened, locked, or a write failed
    ├── ScoringError                the model cannot be used
    │   ├── ModelNotFoundError      no such model version, path or hub id
    │   ├── LabelMappingError       the checkpoint's id2label does not map onto neg/neu/pos
    │   ├── CanaryFailedError       the model mislabels the canary set
    │   └── OnnxCheckError          an ONNX export disagrees with its PyTorch model
    ├── TrainingError               training data or arguments are unusable
    ├── AlertDeliveryError          a receiver refused a notification (``retryable`` says if
    │                               trying again may help)
    ├── StageFailedError            a stage returned status ``failed`` (a scheduler retries)
    ├── SignInError                 unknown user, wrong password or an expired session
    └── AccessDeniedError           the user's role does not allow the action (e.g. a silence
                                    of a whole scope without the ``admin`` role)

Third-party exceptions are translated at the boundary (``raise FeedFetchError(...) from exc``).
"""

from __future__ import annotations


class TonewatchError(Exception):
    """Base class of every error tonewatch raises deliberately."""


class ConfigError(TonewatchError):
    """A setting or configuration file is invalid; the message names the culprit."""


class FeedError(TonewatchError):
    """One feed could not be ingested.

    Attributes:
        source: the feed's URL or path.
        status: the health state to record for the feed (``fetch_failed``, ``parse_error``,
            ``not_a_feed``).
        http_status: the HTTP status code when one was received, else ``None``.
    """

    status = "fetch_failed"

    def __init__(self, message: str, *, source: str = "", http_status: int | None = None):
        super().__init__(message)
        self.source = source
        self.http_status = http_status


class FeedFetchError(FeedError):
    """The feed's bytes could not be obtained (network, HTTP error, missing file, too large)."""

    status = "fetch_failed"


class FeedParseError(FeedError):
    """The document could not be parsed and yielded no entries."""

    status = "parse_error"


class NotAFeedError(FeedError):
    """The document parsed but is not a feed (an HTML page, a sitemap, an empty shell)."""

    status = "not_a_feed"


class TransientFetchError(FeedError):
    """A fetch attempt failed in a way worth retrying (timeout, connection error, 429, 5xx).

    Raised and caught inside :mod:`pipeline.ingest.fetch` to drive its retries; when they run
    out it becomes a :class:`FeedFetchError`.

    Attributes:
        response: the HTTP response (429/5xx), or None when there was none.
        cause: the transport error, or None.
    """

    status = "fetch_failed"

    def __init__(self, response=None, cause: Exception | None = None):
        super().__init__(str(cause) if cause else f"HTTP {response.status_code}")
        self.response = response
        self.cause = cause


class AllFeedsFailedError(FeedError):
    """Every feed of an ingest run failed: a systemic problem the scheduler should retry.

    Attributes:
        result: the ingest stage's :class:`~pipeline.domain.StageResult` (counts per
            outcome), already recorded in ``runs``; None until the stage sets it.
    """

    result = None


class StorageError(TonewatchError):
    """The database could not be opened or written (locked, unwritable, corrupt)."""


class ScoringError(TonewatchError):
    """Scoring cannot proceed."""


class ModelNotFoundError(ScoringError):
    """The requested model version, directory or hub id does not exist or cannot be reached."""


class LabelMappingError(ScoringError):
    """A checkpoint's ``config.id2label`` cannot be mapped onto negative/neutral/positive."""


class CanaryFailedError(ScoringError):
    """A model mislabels the canary set (shuffled labels, wrong task or a broken fine-tune)."""


class OnnxCheckError(ScoringError):
    """An exported ONNX model disagrees with the PyTorch model it came from."""


class TrainingError(TonewatchError):
    """Training data or training arguments are unusable (unknown label, empty split, ...)."""


class AlertDeliveryError(TonewatchError):
    """A receiver did not accept a notification.

    Attributes:
        receiver: name of the receiver.
        retryable: True when trying again later may succeed (timeouts, 5xx, 429); False for
            errors that will not go away by themselves (authentication, 4xx, bad address).
        retry_after: seconds the receiver asked to wait (HTTP ``Retry-After``), if any.
        channel_down: the channel itself is unusable (e.g. SMTP authentication failed): stop
            using it for this run and keep its notifications for a later one.
    """

    def __init__(self, message: str, *, receiver: str = "", retryable: bool = False,
                 retry_after: float | None = None, channel_down: bool = False):
        super().__init__(message)
        self.receiver = receiver
        self.retryable = retryable
        self.retry_after = retry_after
        self.channel_down = channel_down


class StageFailedError(TonewatchError):
    """A stage returned status ``failed``; raised so that the scheduler retries the task."""


class SignInError(TonewatchError):
    """Sign-in refused: unknown user, wrong password or an expired session.

    The message never says which of user or password was wrong, and never holds the password.
    """


class AccessDeniedError(TonewatchError):
    """The acting user is not signed in, or their role does not allow the action."""
