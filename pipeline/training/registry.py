"""The model registry: versioned model folders on disk plus the ``model_versions`` table.

Layout (``TONEWATCH_MODEL_REGISTRY``, default ``models/registry/``)::

    <registry>/<name>/<model_version>/
        config.json, model.safetensors, tokenizer files   (save_pretrained output)
        registry.json       {model_version, name, stage, created_at, base, data_hash, metrics}
        training_args.json
        README.md           model card

The registry folder is the source of truth for stages (candidate / production / archived), so
several data directories share one built model; each database mirrors it in ``model_versions``
when it scores.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ModelNotFoundError, TonewatchError

STAGES = ("candidate", "production", "archived")
DEFAULT_NAME = "tonewatch-minilm"


@dataclass
class ModelRecord:
    """One registered model version."""

    model_version: str
    name: str
    path: Path
    stage: str
    created_at: str
    metrics: dict[str, Any]
    info: dict[str, Any]


def _write_json(path: Path, data: Any) -> None:
    # Write-then-rename so a crash never leaves a half-written registry file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


class Registry:
    """A model registry rooted at a folder.

    Args:
        root: the registry folder (created on first registration).
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def list(self) -> list[ModelRecord]:
        """Every registered version, oldest first."""
        records = []
        if not self.root.is_dir():
            return records
        for info_file in self.root.glob("*/*/registry.json"):
            try:
                info = json.loads(info_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a folder being written right now, or damaged: not a usable version
            records.append(ModelRecord(info["model_version"], info["name"], info_file.parent,
                                       info.get("stage", "candidate"), info.get("created_at", ""),
                                       info.get("metrics", {}), info))
        return sorted(records, key=lambda r: (r.created_at, r.model_version))

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

    def register(
        self, model, tokenizer, *, name: str, created_at: datetime, info: dict[str, Any],
        training_args: dict[str, Any] | None = None, card: str = "",
    ) -> ModelRecord:
        """Save a trained model as a new candidate version.

        The folder is written under a temporary name and renamed at the end, so an interrupted
        registration leaves no half-written version behind.

        Returns:
            the new record (stage ``candidate``).
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
        _write_json(staging / "registry.json", record_info)
        (staging / "README.md").write_text(card, encoding="utf-8")
        os.replace(staging, final)
        return self.get(version)

    def set_stage(self, version: str, stage: str) -> ModelRecord:
        """Move a version to ``stage``; promoting to production archives the previous one."""
        if stage not in STAGES:
            raise TonewatchError(f"unknown stage {stage!r}; use one of {STAGES}")
        target = self.get(version)
        if stage == "production":
            for record in self.list():
                if record.stage == "production" and record.model_version != target.model_version:
                    self.update(record, stage="archived")
        self.update(target, stage=stage)
        return self.get(target.model_version)

    def update(self, record: ModelRecord, **changes: Any) -> None:
        """Merge ``changes`` into a version's ``registry.json`` (atomic rewrite)."""
        info = dict(record.info, **changes)
        _write_json(record.path / "registry.json", info)


def sync_model_versions(con, registry: Registry) -> int:
    """Mirror the registry into the database's ``model_versions`` table; return rows written."""
    import pandas as pd

    from pipeline.storage.db import upsert_frame

    records = registry.list()
    frame = pd.DataFrame(
        [{"model_version": r.model_version, "name": r.name, "path": str(r.path), "stage": r.stage,
          "metrics": json.dumps(r.metrics, default=str), "created_at": pd.Timestamp(r.created_at)}
         for r in records],
        columns=["model_version", "name", "path", "stage", "metrics", "created_at"],
    )
    return upsert_frame(con, "model_versions", frame, ["model_version"], ["path", "stage", "metrics"])
