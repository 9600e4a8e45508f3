"""Quality checks and the train/validation split of the project's labelled corpus.

The corpus (``models/corpus/*.csv``, see ``models/corpus/GUIDELINES.md``) must read like real news,
not like filled-in templates, because a model trained on templates learns the templates. Three
measures catch that:

- **distinct word-trigram ratio**: distinct trigrams / all trigrams over the corpus (the
  "distinct-n" diversity measure of Li et al. 2016, arXiv:1510.03055, with n = 3);
- **near-duplicate rate**: share of rows whose word set has Jaccard similarity >= 0.8 with another
  row (Broder 1997's resemblance, on word sets rather than shingles since headlines are short);
- **skeleton duplicate rate**: share of rows whose *skeleton* (capitalised names, cashtags and
  numbers masked, as template slots would be) equals another row's skeleton.

``tonewatch corpus stats`` prints them, ``tonewatch corpus assign-splits`` gives rows without a
split their stable one (15 % validation by a hash of the text) and ``tonewatch corpus copies``
lists rows that reproduce a row of another dataset (:func:`copies_in`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.scoring.preprocess import model_input
from pipeline.training.datasets import _read_one, data_files, load_labelled

VALIDATION_SHARE = 0.15
NEAR_DUPLICATE_JACCARD = 0.8

_WORD = re.compile(r"\$?[A-Za-z][A-Za-z'&.-]*|\d[\d.,%]*")


def words(text: str) -> list[str]:
    """Lower-cased word tokens with every digit replaced by 0 (so '4.1%' and '7.3%' match)."""
    return [re.sub(r"\d", "0", w.lower()) for w in _WORD.findall(text)]


def skeleton(text: str) -> str | None:
    """The text with its slot-like parts masked: capitalised words → ``N``, cashtags → ``$T``,
    numbers → ``0``; runs of ``N`` collapse into one.

    Returns:
        the skeleton, or None for Title Case / upper-case text (names cannot be told apart
        from ordinary words there, so such rows are not compared).
    """
    tokens = _WORD.findall(text)
    if not tokens:
        return None
    alpha = [t for t in tokens if t[0].isalpha()]
    if alpha and sum(t[0].isupper() for t in alpha) / len(alpha) > 0.6:
        return None
    out: list[str] = []
    for token in tokens:
        if token.startswith("$"):
            slot = "$T"
        elif token[0].isdigit():
            slot = "0"
        elif token[0].isupper():
            slot = "N"
        else:
            slot = token
        if not (slot == "N" and out and out[-1] == "N"):
            out.append(slot)
    return " ".join(out)


def distinct_trigram_ratio(texts: list[str]) -> float:
    """Distinct word trigrams / total word trigrams over all ``texts`` (0..1; 1 = no repeats)."""
    total, seen = 0, set()
    for text in texts:
        w = words(text)
        grams = list(zip(w, w[1:], w[2:]))
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def near_duplicate_rate(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> float:
    """Share of rows with at least one other row at word-set Jaccard >= ``threshold``.

    Exact pairwise comparison via a sparse incidence matrix (fine for tens of thousands of rows).
    """
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for w in set(words(text)):
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    if not texts:
        return 0.0
    m = csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(texts), len(vocab)))
    sizes = np.asarray(m.sum(axis=1)).ravel()
    inter = (m @ m.T).tocoo()
    mask = inter.row < inter.col
    i, j, k = inter.row[mask], inter.col[mask], inter.data[mask]
    union = sizes[i] + sizes[j] - k
    hit = (union > 0) & (k / np.maximum(union, 1) >= threshold)
    flagged = set(i[hit].tolist()) | set(j[hit].tolist())
    return len(flagged) / len(texts)


def skeleton_duplicate_rate(texts: list[str]) -> float:
    """Share of comparable rows whose :func:`skeleton` occurs more than once."""
    skeletons = [s for s in map(skeleton, texts) if s is not None]
    if not skeletons:
        return 0.0
    counts = Counter(skeletons)
    return sum(c for c in counts.values() if c > 1) / len(skeletons)


_TOKEN = re.compile(r"[a-z0-9$%.']+")


def _literal_trigrams(text: str) -> set[tuple[str, ...]]:
    """Word trigrams of the lower-cased text with links dropped; digits kept as written."""
    tokens = _TOKEN.findall(model_input(str(text)).lower())
    return set(zip(tokens, tokens[1:], tokens[2:]))


def copied_rows(texts: list[str], reference: list[str], *, min_shared: int = 3,
                min_share: float = 0.75) -> list[tuple[str, str, float]]:
    """Rows of ``texts`` that reproduce a row of ``reference`` (an outside dataset) too closely.

    A row is flagged when, for some reference row, at least ``min_shared`` of its word trigrams
    and at least ``min_share`` of all its trigrams occur in that reference row. Trigrams are
    taken literally (numbers as written, links dropped), so a shared headline *form* with other
    names and figures ("X EPS beats by $0.02, misses on revenue") stays below the bar while a
    sentence carried over with its figures does not. The corpus is written for the project;
    this check keeps text from a benchmark or any other dataset out of it.

    Args:
        texts: corpus rows.
        reference: the outside rows to compare with (for example a benchmark's texts).
        min_shared: fewest shared trigrams that can flag a row (short rows have few trigrams).
        min_share: share of the row's trigrams found in one reference row that flags it.

    Returns:
        ``(row, closest reference row, share)`` for each flagged row, in ``texts`` order.
    """
    index: dict[tuple[str, ...], list[int]] = {}
    for j, ref in enumerate(reference):
        for gram in _literal_trigrams(ref):
            index.setdefault(gram, []).append(j)
    flagged = []
    for text in texts:
        grams = _literal_trigrams(text)
        if len(grams) < min_shared:
            continue
        counts = Counter(j for gram in grams for j in index.get(gram, ()))
        if not counts:
            continue
        j, shared = counts.most_common(1)[0]
        share = shared / len(grams)
        if shared >= min_shared and share >= min_share:
            flagged.append((text, reference[j], round(share, 3)))
    return flagged


def copies_in(folder: Path, reference_files: list[Path]) -> list[tuple[str, str, float]]:
    """Rows of the corpus in ``folder`` that reproduce a row of the ``reference_files``.

    Args:
        folder: corpus folder (read with :func:`pipeline.training.datasets.load_labelled`).
        reference_files: another dataset's CSV/TSV/JSONL files; only their text column is read.

    Returns:
        :func:`copied_rows` of the corpus texts against the reference texts.

    Raises:
        TrainingError: a file cannot be read or has no text column.
    """
    reference = [t for name in reference_files for t in _read_one(Path(name), None)["text"]]
    return copied_rows(list(load_labelled(folder)["text"]), reference)


def corpus_stats(frame: pd.DataFrame) -> dict:
    """Size, label shares, split sizes and the three diversity measures of a corpus.

    Args:
        frame: rows ``(text, label[, split])``.
    """
    texts = list(frame["text"])
    stats = {
        "rows": len(frame),
        "label_share": {k: round(float(v), 4) for k, v in frame["label"].value_counts(normalize=True).items()},
        "distinct_trigram_ratio": round(distinct_trigram_ratio(texts), 4),
        "near_duplicate_rate": round(near_duplicate_rate(texts), 4),
        "skeleton_duplicate_rate": round(skeleton_duplicate_rate(texts), 4),
    }
    if "split" in frame.columns:
        stats["split_rows"] = {k: int(v) for k, v in frame["split"].value_counts().items()}
    return stats


def company_level_stats(frame: pd.DataFrame) -> dict:
    """:func:`corpus_stats` of company-level rows ``(text, target, label[, split])``: diversity
    measured over distinct headlines, plus how many name several companies and how many judge
    them differently."""
    per_text = frame.groupby("text").agg(companies=("target", "nunique"), labels=("label", "nunique"))
    stats = corpus_stats(frame.drop_duplicates("text"))
    stats.pop("label_share")
    return {"rows": len(frame), "headlines": len(per_text),
            "multi_company_headlines": int((per_text["companies"] > 1).sum()),
            "conflicting_headlines": int((per_text["labels"] > 1).sum()),
            "label_share": {k: round(float(v), 4)
                            for k, v in frame["label"].value_counts(normalize=True).items()},
            **{k: v for k, v in stats.items() if k != "rows"}}


def stable_split(text: str, share: float = VALIDATION_SHARE) -> str:
    """``validation`` for a stable ``share`` of texts (by SHA-1 of the stripped text), else ``train``."""
    digest = hashlib.sha1(text.strip().encode("utf-8")).digest()
    return "validation" if int.from_bytes(digest[:4], "big") / 2**32 < share else "train"


def assign_splits(folder: Path) -> dict[str, int]:
    """Give every row of every CSV in ``folder`` (sub-folders included) without a split its
    :func:`stable_split`.

    Rows that already have a split keep it, so adding rows never moves validation rows into
    training. The split depends on the text alone, so the company-level rows of one headline
    (``models/corpus/entities/``) all land in one split. Files with rows to assign are rewritten
    in place (UTF-8, their columns in order, ``split`` last); the others are not touched.

    Returns:
        ``{file path relative to folder: rows newly assigned}``.
    """
    changed = {}
    for path in (p for p in data_files(Path(folder)) if p.suffix.lower() == ".csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "split" not in frame.columns:
            frame["split"] = ""
        todo = frame["split"].str.strip() == ""
        changed[str(path.relative_to(folder))] = int(todo.sum())
        if not todo.any():
            continue  # untouched: a file with nothing to assign keeps its bytes (and line ends)
        frame.loc[todo, "split"] = frame.loc[todo, "text"].map(stable_split)
        columns = [c for c in frame.columns if c != "split"] + ["split"]
        frame[columns].to_csv(path, index=False)
    return changed
