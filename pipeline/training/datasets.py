"""Read labelled sentiment data in the common formats into ``(text, label)`` rows.

Accepted files: CSV, TSV, JSONL, and ``sentence@label`` lines (the Financial PhraseBank layout).
A directory means every such file in it and in its sub-folders (the project corpus keeps its
company-level rows in ``models/corpus/entities/``). The text column is found among text /
sentence / content / headline / title (or given); labels may be words (negative/neutral/positive),
bearish/bullish, or integers with an explicit ``label_map`` such as ``0=negative,1=positive,2=neutral``.

Company-level (entity-targeted) rows carry the company they judge in an ``entity`` / ``target`` /
``company`` column (or the one given): such a row is the text judged *toward that company*,
and becomes the model input pair ``(text, target)``; rows without a target are article-level.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from pipeline.domain import LABELS, canonical_label, parse_label_spec
from pipeline.errors import LabelMappingError, TrainingError

TEXT_COLUMNS = ("text", "sentence", "content", "headline", "title")
LABEL_COLUMNS = ("label", "sentiment", "labels", "class")
TARGET_COLUMNS = ("entity", "target", "company")
SUFFIXES = (".csv", ".tsv", ".jsonl", ".txt")
#: Accepted spellings of an optional ``split`` column.
SPLITS = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
          "val": "validation", "dev": "validation"}


#: A sub-folder of a labelled folder that holds change logs (which rows a guideline revision
#: relabelled, ``models/corpus/revisions/``), not data: never read as rows.
REVISIONS_FOLDER = "revisions"


def data_files(path: Path) -> list[Path]:
    """The data files of a labelled folder (sub-folders included, :data:`REVISIONS_FOLDER` left
    out), sorted; ``[path]`` for a file."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                  and REVISIONS_FOLDER not in p.relative_to(path).parts[:-1])


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``"0=negative,1=positive,2=neutral"`` → ``{"0": "negative", ...}``.

    Raises:
        TrainingError: malformed pair or a target that is not a known label.
    """
    try:
        return parse_label_spec(spec)
    except LabelMappingError as exc:
        raise TrainingError(f"--label-map: {exc}") from exc


def _read_one(path: Path, text_col: str | None, target_col: str | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".txt":
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            rows = [(*line.rsplit("@", 1), number) for number, line in enumerate(lines, 1) if "@" in line]
            frame = pd.DataFrame(rows, columns=["text", "label", "_line"])
        else:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise TrainingError(f"cannot read {path}: {exc}") from exc
    columns = {c.lower(): c for c in frame.columns}
    text = text_col or next((columns[c] for c in TEXT_COLUMNS if c in columns), None)
    label = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if text is None or text not in frame.columns:
        raise TrainingError(f"{path}: no text column (looked for {text_col or TEXT_COLUMNS})")
    if label is None:
        raise TrainingError(f"{path}: no label column (looked for {LABEL_COLUMNS})")
    out = pd.DataFrame({"text": frame[text].astype(str), "raw_label": frame[label].astype(str)})
    if target_col is not None and target_col not in frame.columns:
        raise TrainingError(f"{path}: no entity column {target_col!r} (columns: "
                            f"{', '.join(map(str, frame.columns))})")
    target = target_col or next((columns[c] for c in TARGET_COLUMNS if c in columns), None)
    if target is not None:
        values = frame[target].astype(str).str.strip()
        out["target"] = values.where(values != "")
    if "split" in columns:
        out["split"] = frame[columns["split"]].astype(str).str.strip().str.lower().map(SPLITS)
        bad = out["split"].isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise TrainingError(f"{path}: unknown split {frame[columns['split']].iloc[row]!r} in "
                                f"data row {row + 1}; use train or validation")
    if "_line" in frame.columns:  # sentence@label: the real line numbers
        out["source_row"] = frame["_line"].to_numpy()
    else:  # 1-based line numbers; CSV/TSV have a header line, JSONL does not
        first = 1 if suffix == ".jsonl" else 2
        out["source_row"] = range(first, len(out) + first)
    out["source_file"] = str(path)
    return out


def load_labelled(
    path: str | Path, *, text_col: str | None = None, label_map: dict[str, str] | None = None,
    target_col: str | None = None,
) -> pd.DataFrame:
    """Load labelled examples.

    Args:
        path: a file, or a directory of files (sub-folders included, except change logs in
            :data:`REVISIONS_FOLDER`).
        text_col: name of the text column when it is not one of :data:`TEXT_COLUMNS`.
        label_map: raw label → canonical label (required for integer labels).
        target_col: name of the column naming the company a row is judged toward, when it is
            not one of :data:`TARGET_COLUMNS`; every file must then have it.

    Returns:
        DataFrame ``(text, label)`` with label in :data:`pipeline.domain.LABELS`, plus ``split``
        (train / validation) when a file has a split column (rows of files without one are
        train) and ``target`` (the company, None for article-level rows) when a file has a
        target column; blank texts dropped, exact duplicate (text, target, label) rows dropped.

    Raises:
        TrainingError: no file, unknown label (message has file and row), or no rows.
    """
    path = Path(path)
    files = data_files(path)
    if not files or not all(f.exists() for f in files):
        raise TrainingError(f"no training data at {path}")
    frame = pd.concat([_read_one(f, text_col, target_col) for f in files], ignore_index=True)
    label_map = label_map or {}
    labels = []
    for raw, row, src in zip(frame["raw_label"], frame["source_row"], frame["source_file"], strict=True):
        label = label_map.get(raw.strip()) or canonical_label(raw)
        if label is None:
            hint = " (integer labels need --label-map, e.g. 0=negative,1=positive,2=neutral)" if raw.strip().isdigit() else ""
            raise TrainingError(f"{src} row {row}: unknown label {raw!r}{hint}")
        labels.append(label)
    frame["label"] = labels
    frame["text"] = frame["text"].str.strip()
    keys = ["text", "target", "label"] if "target" in frame.columns else ["text", "label"]
    frame = frame[frame["text"] != ""].drop_duplicates(subset=keys)
    if frame.empty:
        raise TrainingError(f"{path}: no labelled rows")
    if "split" in frame.columns:
        frame["split"] = frame["split"].fillna("train")
    columns = ["text", "label"] + [c for c in ("split", "target") if c in frame.columns]
    out = frame[columns].reset_index(drop=True)
    if "target" in out.columns:
        out["target"] = out["target"].astype(object).where(out["target"].notna(), None)
    return out


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the examples (order-independent), recorded with every trained model."""
    digest = hashlib.sha256()
    targets = frame["target"] if "target" in frame.columns else [None] * len(frame)
    for text, label, target in sorted(zip(frame["text"], frame["label"], targets, strict=True),
                                      key=lambda row: (row[0], row[1], row[2] or "")):
        # Article-level rows hash as before, so a model's recorded hash stays comparable.
        digest.update((f"{label}\t{text}\n" if not target else
                       f"{label}\t{text}\t{target}\n").encode())
    return digest.hexdigest()


def label_ids(labels: pd.Series) -> list[int]:
    """Canonical labels → class indices in :data:`LABELS` order."""
    return [LABELS.index(label) for label in labels]
