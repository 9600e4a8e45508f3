"""The model registry: versioned model folders on disk.

Layout (``TONEWATCH_MODEL_REGISTRY``, default ``models/registry/``)::

    <registry>/<name>/<model_version>/
        config.json, model.safetensors, tokenizer files   (save_pretrained output)
        registry.json       {model_version, name, stage, created_at, base, data_hash, metrics}
        training_args.json
        README.md           model card

The registry folder is the source of truth for stages (candidate / production / archived), so
several data directories share one built model; each database mirrors it in ``model_versions``
when it scores (:func:`pipeline.storage.models.sync_model_versions`, fed with
:meth:`Registry.list`).

A :class:`Registry` reads the ``registry.json`` files once, on first use, and keeps what it read:
one stage (score, rescore, train, ensure-default) reads each file at most once. Its own writes
update what it keeps; writes by another process are seen by a new instance (or after
:meth:`Registry.refresh`).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.domain import MODEL_STAGES, ModelRecord
from pipeline.errors import ModelNotFoundError, TonewatchError

STAGES = MODEL_STAGES
DEFAULT_NAME = "tonewatch-minilm"
#: Name of the record file inside a version folder.
INFO_FILE = "registry.json"


def _write_json(path: Path, data: Any) -> None:
    # Write-then-rename so a crash never leaves a half-written registry file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def _as_read(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` as :func:`_write_json` stores it and a reader gets it back (keys sorted,
    non-JSON values as strings), so a kept record equals a freshly read one."""
    return json.loads(json.dumps(info, sort_keys=True, default=str))


def _sort_key(record: ModelRecord) -> tuple[str, str]:
    return record.created_at, record.model_version


class Registry:
    """A model registry rooted at a folder.

    The version records are read on first use and kept (see the module docstring); pass one
    instance through a stage instead of opening the registry again.

    Args:
        root: the registry folder (created on first registration).
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._records: list[ModelRecord] | None = None

    def _read(self) -> list[ModelRecord]:
        records = []
        if not self.root.is_dir():
            return records
        for info_file in self.root.glob(f"*/*/{INFO_FILE}"):
            try:
                info = json.loads(info_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a folder being written right now, or damaged: not a usable version
            records.append(ModelRecord.from_info(info, info_file.parent))
        return sorted(records, key=_sort_key)

    def _remember(self, record: ModelRecord) -> ModelRecord:
        """Put ``record`` (new or rewritten by this instance) into what this instance keeps."""
        if self._records is not None:
            kept = [r for r in self._records if r.model_version != record.model_version]
            self._records = sorted([*kept, record], key=_sort_key)
        return record

    def refresh(self) -> Registry:
        """Forget what was read, so the next call reads the folder again; returns ``self``."""
        self._records = None
        return self

    def list(self) -> list[ModelRecord]:
        """Every registered version, oldest first (read once per instance)."""
        if self._records is None:
            self._records = self._read()
        return list(self._records)

    def get(self, version: str) -> ModelRecord:
        """The record of ``version``, or of the production model for ``"production"``.

        Raises:
            ModelNotFoundError: unknown version, or no production model yet.
        """
        records = self.list()
        if version == "production":
            prod = [r for r in records if r.stage == "production"]
            if not prod:
                raise ModelNotFoundError(
                    f"no production model in {self.root}; build one with "
                    "`tonewatch model ensure-default` (or `make demo`)"
                )
            return prod[-1]
        for record in records:
            if record.model_version == version:
                return record
        raise ModelNotFoundError(f"model version {version!r} is not in the registry {self.root}")

    def find(self, version: str) -> ModelRecord | None:
        """The record of ``version`` (no ``"production"`` alias), or None when not registered."""
        return next((r for r in self.list() if r.model_version == version), None)

    def register(
        self, model, tokenizer, *, name: str, created_at: datetime, info: dict[str, Any],
        training_args: dict[str, Any] | None = None, card: str = "",
        files: dict[str, str] | None = None,
    ) -> ModelRecord:
        """Save a trained model as a new candidate version.

        ``card`` becomes the version's ``README.md``; ``files`` maps further file names (no
        folders) to text written next to it, e.g. the card's pictures.

        The folder is written under a temporary name and renamed at the end, so an interrupted
        registration leaves no half-written version behind.

        Returns:
            the new record (stage ``candidate``).

        Raises:
            TonewatchError: a version of that name and instant already exists.
        """
        version = f"{name}-{created_at:%Y%m%d-%H%M%S}"
        final = self.root / name / version
        if final.exists():
            raise TonewatchError(f"model version {version} already exists in {self.root}")
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{version}."))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if training_args is not None:
            _write_json(staging / "training_args.json", training_args)
        record_info = {"model_version": version, "name": name, "stage": "candidate",
                       "created_at": created_at.isoformat(), **info}
        _write_json(staging / INFO_FILE, record_info)
        (staging / "README.md").write_text(card, encoding="utf-8")
        for file_name, text in (files or {}).items():
            (staging / Path(file_name).name).write_text(text, encoding="utf-8")
        os.replace(staging, final)
        self.list()  # read what was there before (once), so the new version joins the full list
        return self._remember(ModelRecord.from_info(_as_read(record_info), final))

    def set_stage(self, version: str, stage: str) -> ModelRecord:
        """Move a version to ``stage``; promoting to production archives the previous one.

        Raises:
            TonewatchError: unknown stage. ModelNotFoundError: unknown version.
        """
        if stage not in STAGES:
            raise TonewatchError(f"unknown stage {stage!r}; use one of {STAGES}")
        target = self.get(version)
        if stage == "production":
            for record in self.list():
                if record.stage == "production" and record.model_version != target.model_version:
                    self.update(record, stage="archived")
        return self.update(target, stage=stage)

    def update(self, record: ModelRecord, **changes: Any) -> ModelRecord:
        """Merge ``changes`` into a version's ``registry.json`` (atomic rewrite).

        Returns:
            the updated record.
        """
        info = dict(record.info, **changes)
        _write_json(record.path / INFO_FILE, info)
        return self._remember(ModelRecord.from_info(_as_read(info), record.path))
