"""The ``corpus`` group: quality figures, splits and copy checks of the labelled training corpus.

Each command prints one JSON document on stdout (the library is :mod:`pipeline.training.corpus`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

corpus_app = typer.Typer(help="Training corpus: size, balance and diversity; splits; copies of "
                              "other datasets.", no_args_is_help=True)

#: Relative, like the old ``python -m pipeline.training.corpus``: resolved against the working
#: directory (the repository root).
_DEFAULT_FOLDER = Path("models/corpus")

FolderArg = Annotated[Path, typer.Argument(help="Corpus folder of CSV files.")]


def _print_json(document: object, *, ensure_ascii: bool = True) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=ensure_ascii) + "\n")


@corpus_app.command("stats")
def corpus_stats(folder: FolderArg = _DEFAULT_FOLDER) -> None:
    """Print rows, label shares, split sizes and the three diversity measures the tests hold it to
    (article-level rows; with company-level rows also a ``company_level`` part)."""
    from pipeline.training.corpus import company_level_stats
    from pipeline.training.corpus import corpus_stats as stats
    from pipeline.training.datasets import load_labelled

    frame = load_labelled(folder)
    if "target" not in frame.columns:
        _print_json(stats(frame))
        return
    targeted = frame["target"].notna()
    document = stats(frame[~targeted]) if (~targeted).any() else {}
    document["company_level"] = company_level_stats(frame[targeted])
    _print_json(document)


@corpus_app.command("assign-splits")
def corpus_assign_splits(folder: FolderArg = _DEFAULT_FOLDER) -> None:
    """Give rows without a split their stable one (15 % validation by a hash of the text); rewrites the CSVs."""
    from pipeline.training.corpus import assign_splits

    _print_json(assign_splits(folder))


@corpus_app.command("copies")
def corpus_copies(
    folder: FolderArg,
    references: Annotated[list[Path], typer.Argument(
        help="Files of another dataset (CSV/TSV/JSONL with a text column).", show_default=False)],
) -> None:
    """List corpus rows that reproduce a row of another dataset; exit status 1 if there are any."""
    from pipeline.training.corpus import copies_in

    flagged = copies_in(folder, references)
    _print_json([{"row": r, "reference": ref, "share": sh} for r, ref, sh in flagged],
                ensure_ascii=False)
    if flagged:
        raise typer.Exit(1)
