"""Typed settings for every tonewatch entry point.

One :class:`Settings` object, read from environment variables prefixed ``TONEWATCH_`` (and an
optional ``.env`` file), feeds the CLI, the DAGs and the dashboard alike. Relative paths are
resolved against the current working directory, so ``make demo`` in a clone needs no
configuration. Secrets (SMTP password, Slack webhook URL) are :class:`pydantic.SecretStr` and are
never printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from pipeline.errors import ConfigError

ENV_PREFIX = "TONEWATCH_"


#: An http(s) URL with a host (dashboard links, webhooks).
_HTTP_URL = re.compile(r"^https?://[^\s/]+")


class Settings(BaseSettings):
    """Runtime settings; each field is also the env var ``TONEWATCH_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Holds tonewatch.duckdb and run state.")
    model_registry: Path = Field(
        Path("models/registry"), description="Model registry folder, shared by data dirs."
    )
    feeds_file: Path = Field(Path("config/feeds.yaml"), description="Configured feeds.")
    alert_rules_file: Path = Field(Path("config/alert_rules.yaml"), description="Alert rules.")
    entities_file: Path = Field(
        Path("config/entities.yaml"),
        description="Deprecated (use companies_file): old 'Name: TICKER' file; read as additions "
        "only when set explicitly.",
    )
    companies_file: Path = Field(
        Path("config/companies.yaml"),
        description="Company additions and overrides (YAML or CSV); missing = defaults only.",
    )
    default_universe: bool = Field(
        True, description="Start from the bundled universe of ~1,800 listed companies."
    )
    watchlist_file: Path | None = Field(
        None, description="Tickers a desk covers (YAML list or one per line); unset = all."
    )
    topics_file: Path = Field(Path("config/topics.yaml"), description="Topics of scope: topic rules.")
    corpus_dir: Path = Field(Path("models/corpus"), description="Default training corpus.")

    model: str = Field(
        "production",
        description="Scoring model: 'production', a registry version, a local dir or a hub id.",
    )
    model_labels: str = Field(
        "",
        description="Explicit output-label map for checkpoints labelled LABEL_0.., e.g. "
        "'LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive'; empty = use config.id2label.",
    )
    base_model: str = Field(
        "", description="Base encoder for training; empty = the embedded MiniLM package."
    )
    score_batch_size: int = Field(64, ge=1, le=4096, description="Sentences per forward pass.")
    max_length: int = Field(128, ge=8, le=512, description="Tokenizer truncation, in tokens.")
    score_chunk_size: int = Field(
        2048, ge=1, description="Articles scored and written per transaction (bounds memory)."
    )
    scoring_backend: Literal["auto", "torch", "onnx-int8", "onnx-fp32"] = Field(
        "auto", description="auto: the fastest backend that passed its check against PyTorch "
        "when the model was built (or `tonewatch model export-onnx`), torch when none did; or "
        "force torch, or ONNX Runtime in float32 or int8 (a few borderline labels move).",
    )
    score_token_budget: int | None = Field(
        None, ge=16, description="Padded tokens per forward pass; unset = 1024 on CPU, measured on CUDA.",
    )
    score_compile: bool = Field(False, description="torch.compile the scoring model (CUDA only).")
    entity_scoring: Literal["multi", "all"] = Field(
        "multi", description="Which (article, company) links get a company-level score: 'multi' = "
        "links of articles naming two or more companies (an article naming one company keeps its "
        "article-level score for it: on the company-level validation split both read such "
        "headlines equally well, 0.893 accuracy on 270 rows, and it halves the entity pass); "
        "'all' = every link.",
    )
    # NoDecode: accept "en,de" from the environment instead of requiring JSON.
    score_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["en"], description="ISO 639-1 codes of languages to score."
    )

    http_timeout_s: float = Field(15.0, gt=0, description="Connect/read timeout, seconds.")
    http_max_bytes: int = Field(10_000_000, gt=0, description="Largest feed body accepted.")
    user_agent: str = Field(
        "tonewatch/0.1 (+https://github.com/tonewatch/tonewatch; financial news monitor)"
    )

    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""
    smtp_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    slack_webhook_url: SecretStr = SecretStr("")
    dashboard_url: str = Field("http://127.0.0.1:8501",
                               description="Base URL of the dashboard, linked from alert messages.")

    # Who may change state (issue 24): see pipeline/access and README "Access".
    users_file: Path | None = Field(
        None, description="Dashboard user file (roles, Argon2id hashes) managed by `tonewatch "
        "users`; unset = no password sign-in.",
    )
    dashboard_secrets_file: Path | None = Field(
        None, description="Streamlit secrets.toml with an [auth] section for OIDC sign-in "
        "(st.login), kept outside the repository; passed to streamlit by `tonewatch dashboard`.",
    )
    dashboard_anonymous_read: bool | None = Field(
        None, description="Whether visitors who have not signed in may read the dashboard; "
        "unset = yes on loopback (127.0.0.1), no on any other address.",
    )
    dashboard_session_minutes: int = Field(
        480, ge=1, le=43200, description="A dashboard sign-in lasts this many minutes.",
    )
    silence_max_hours: float = Field(
        168.0, gt=0, description="Longest silence anyone may create, hours (default one week).",
    )
    silence_broad_role: Literal["responder", "admin"] = Field(
        "admin", description="Role needed for a silence that can match every alert of a scope "
        "or the market-wide alert (e.g. a bare scope=market).",
    )

    @field_validator("score_languages", "smtp_to", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        # Env vars arrive as strings; accept "en,de" as well as JSON lists.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list: {exc}") from exc
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("score_languages")
    @classmethod
    def _iso_639_1(cls, value: list[str]) -> list[str]:
        # Stored articles carry lingua's ISO 639-1 codes; anything else would never match.
        from lingua import IsoCode639_1

        codes = [code.strip().lower() for code in value]
        unknown = [c for c in codes if not hasattr(IsoCode639_1, c.upper()) or len(c) != 2]
        if unknown:
            raise ValueError(f"not ISO 639-1 language codes: {unknown} (e.g. en, de, fr)")
        return codes

    @field_validator("dashboard_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _HTTP_URL.match(value.strip()):
            raise ValueError("not an http(s) URL")
        return value.strip()

    @field_validator("slack_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        if raw and not _HTTP_URL.match(raw):
            # Never echo a secret: say what is wrong, not what was given.
            raise ValueError("not an http(s) URL (the value is a secret and is not shown)")
        return SecretStr(raw)

    @field_validator("model_labels")
    @classmethod
    def _label_spec(cls, value: str) -> str:
        from pipeline.domain import parse_label_spec
        from pipeline.errors import LabelMappingError

        try:
            parse_label_spec(value)
        except LabelMappingError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def db_path(self) -> Path:
        """Path of the DuckDB file inside :attr:`data_dir`."""
        return self.data_dir / "tonewatch.duckdb"


#: Settings whose values must never appear in an error message or a log.
_SECRET_FIELDS = {name for name, info in Settings.model_fields.items()
                  if info.annotation is SecretStr}


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` from the environment plus explicit overrides.

    Args:
        **overrides: field values that win over the environment (e.g. from CLI options).

    Raises:
        ConfigError: a value is invalid; the message names the env var and the problem.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "?"
        secret = field in _SECRET_FIELDS  # a secret's value is never echoed
        got = "" if secret else f" (got {first.get('input')!r})"
        raise ConfigError(
            f"invalid setting {ENV_PREFIX}{field.upper()}: {first['msg']}{got}"
        ) from exc


def read_yaml(path: Path) -> Any:
    """Read a YAML config file.

    Raises:
        ConfigError: the file is missing, not UTF-8 or not valid YAML (message has the path
            and line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
                          "save the file as UTF-8") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc


def read_config(path: Path, model: type) -> Any:
    """Read a YAML config file and validate it as the pydantic ``model`` (empty file = ``{}``).

    Raises:
        ConfigError: missing file, bad YAML, or an invalid value (one line naming file and field).
    """
    try:
        return model.model_validate(read_yaml(path) or {})
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from exc


def validation_message(path: Path, exc: ValidationError) -> str:
    """Format the first pydantic error of a config file as one line naming file and field."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    where = f"{path}: {loc}" if loc else str(path)
    got = repr(first.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    return f"{where}: {first['msg']} (got {got})"
