"""The entity pass of the scoring benchmark: ``bench/scoring.py --entity`` (run by hand).

Question: how much time does company-level scoring add to the score stage on headlines?
(Requirement: at most 50 %.) One process, one targeted model, one machine:

1. Headlines: the tfns ``valid.csv`` headlines plus, when ``../shared/real_feeds`` is present,
   the titles of its English feeds (read at run time, never copied into the repository); links
   removed (:func:`pipeline.scoring.preprocess.model_input`), as the stage scores them.
2. Each headline is linked against the full default universe
   (``Linker(default_universe()).link(title)``); each link becomes a pair ``(headline,
   target)`` with the target the stage uses: the mention as written, else the company's name,
   else the ticker (``coalesce(mention, name, entity)`` in :mod:`pipeline.storage.scores`).
3. Per backend, alternating and repeated: (a) the article pass, ``classifier.predict(texts)``
   over every headline; (b) the entity pass as the stage runs it by default
   (``entity_scoring = "multi"``: the pairs of headlines naming two or more companies), and
   (b*) over every pair (``entity_scoring = "all"``), ``classifier.predict_probs(texts,
   targets=...)``; and, for scale, (a') the article pass over the linked headlines only (what
   the entity pass would add if every headline named a company, as in per-company feeds).
   All are the real classifier code paths (tokenize once, token-budget batches, forward;
   ``predict_probs`` is ``predict`` less the truncation flags). Reported: wall and CPU seconds (median of the repeats), headlines/s,
   pairs/s, and what explains the ratio: tokens per row and padded tokens per pass
   (:func:`pipeline.scoring.batching.token_budget_batches`, what the forward passes cost).
4. The whole stage (``pipeline.run.score`` on a scratch DuckDB holding the headlines, their
   links and the universe), once with the model's ``targeted`` flag off (article pass only)
   and once on (both passes) with each ``entity_scoring`` setting, alternating, each under a
   fresh ``model_version``.

A targeted model: ``--model DIR`` (its ``config.json`` has ``"tonewatch_targets": true``), else
one trained here in a few minutes on a sample of ``models/corpus`` (article and company rows,
one epoch): its labels are poor, but speed does not depend on accuracy.
"""

from __future__ import annotations

import copy
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from _common import ROOT, TFNS_VALID, cpu_summary, peak_rss_mib

REAL_FEEDS = ROOT.parent / "shared" / "real_feeds"


def load_headlines(limit: int | None) -> tuple[list[str], dict[str, int]]:
    """Headlines (links removed, blanks dropped) and how many came from each source."""
    import feedparser
    import pandas as pd

    from pipeline.scoring.preprocess import model_input

    sources: dict[str, list[str]] = {}
    if TFNS_VALID.exists():
        sources["tfns valid"] = [model_input(t) for t in pd.read_csv(TFNS_VALID)["text"].astype(str)]
    titles = []
    for path in sorted(REAL_FEEDS.glob("*.xml")) if REAL_FEEDS.is_dir() else []:
        parsed = feedparser.parse(path.read_bytes())
        if not str(parsed.feed.get("language", "en")).lower().startswith("en"):
            continue  # the stage does not score other languages
        titles += [model_input(e.get("title", "")) for e in parsed.entries]
    if titles:
        sources["real feeds"] = titles
    headlines = [t for texts in sources.values() for t in texts if t]
    if not headlines:
        raise SystemExit(f"no headlines: neither {TFNS_VALID} nor {REAL_FEEDS} is present")
    if limit and limit < len(headlines):
        keep = np.sort(np.random.default_rng(9).permutation(len(headlines))[:limit])
        headlines = [headlines[i] for i in keep]
    return headlines, {k: len(v) for k, v in sources.items()}


def link_headlines(headlines: list[str]):
    """``(universe, links per headline, pairs (headline index, ticker, target), seconds)``."""
    from pipeline.companies import Linker, default_universe

    universe = default_universe()
    started = time.perf_counter()
    linker = Linker(universe)
    links = [linker.link(title) for title in headlines]
    seconds = time.perf_counter() - started
    pairs = []
    for i, found in enumerate(links):
        for link in found:
            company = universe.companies.get(link.ticker)
            pairs.append((i, link.ticker, link.mention or (company.name if company else link.ticker)))
    return universe, links, pairs, seconds


def train_quick_model(scratch: Path, rows: int = 1600, entity_share: float = 0.35) -> tuple[str, float]:
    """Fine-tune the default base on a sample of ``models/corpus`` for one epoch; ``(path, s)``.

    A timing fixture, not a usable model: ``rows`` rows, ``entity_share`` of them company-level
    pairs, one epoch, no linear probe. The sample keeps the corpus's own split column.
    """
    from pipeline.registry import Registry
    from pipeline.training.arguments import TrainingArguments
    from pipeline.training.datasets import load_labelled
    from pipeline.training.train import train_model

    frame = load_labelled(ROOT / "models" / "corpus")
    paired = frame["target"].notna()
    n_pairs = min(int(rows * entity_share), int(paired.sum()))
    sample = (frame[paired].sample(n_pairs, random_state=1),
              frame[~paired].sample(rows - n_pairs, random_state=1))
    data = scratch / "corpus-sample"
    data.mkdir(parents=True)
    for name, part in zip(("entities", "articles"), sample, strict=True):
        part.rename(columns={"target": "entity"}).to_csv(data / f"{name}.csv", index=False)
    args = TrainingArguments(epochs=1, linear_probe_epochs=0, patience=1, batch_size=32)
    started = time.perf_counter()
    record = train_model(data=data, base="", name="bench-targeted", registry=Registry(scratch / "registry"),
                         now=datetime(2026, 1, 1, tzinfo=UTC), args=args, progress=False)
    return str(record.path), time.perf_counter() - started


def padded_tokens(classifier, texts: list[str], targets: list[str] | None) -> dict:
    """Rows, forward passes, mean tokens per row and padded tokens of one pass's batches."""
    from pipeline.scoring.batching import encode, token_budget_batches
    from pipeline.scoring.preprocess import model_input

    started = time.perf_counter()
    encoded = encode(classifier.tokenizer, [model_input(t) for t in texts], classifier.max_length,
                     targets=None if targets is None else [model_input(t) for t in targets])
    tokenize_s = time.perf_counter() - started
    batches = token_budget_batches(encoded.lengths, max_tokens=classifier.token_budget,
                                   max_batch=classifier.batch_size)
    padded = sum(len(b) * int(encoded.lengths[b].max()) for b in batches)
    return {"rows": len(texts), "passes": len(batches), "tokens_per_row": float(encoded.lengths.mean()),
            "real_tokens": int(encoded.lengths.sum()), "padded_tokens": int(padded),
            "tokenize_s": tokenize_s}


def time_passes(classifier, workloads: dict[str, tuple[list[str], list[str] | None]],
                repeats: int) -> dict:
    """Median wall and CPU seconds of each named pass ``(texts, targets or None)``, alternated
    ``repeats`` times in the given order (so load from other processes hits them alike)."""
    for texts, targets in workloads.values():  # warm-up of each input shape
        classifier.predict(texts[:64], targets=None if targets is None else targets[:64])
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in workloads}
    for _ in range(repeats):
        for name, (texts, targets) in workloads.items():
            wall, cpu = time.perf_counter(), time.process_time()
            classifier.predict(texts, targets=targets)
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: {"wall_s": statistics.median(w for w, _ in r), "cpu_s": statistics.median(c for _, c in r),
                   "wall_runs": [round(w, 3) for w, _ in r]} for name, r in runs.items()}


def stage_db(scratch: Path, headlines: list[str], links: list, universe):
    """Settings of a scratch data dir whose DuckDB holds the headlines, their links, the universe."""
    import pandas as pd

    from pipeline.config import load_settings
    from pipeline.ingest.normalize import ARTICLE_COLUMNS
    from pipeline.ingest.stage import company_rows
    from pipeline.storage.articles import upsert_articles
    from pipeline.storage.db import connect
    from pipeline.storage.entities import LINK_COLUMNS, replace_links, upsert_companies

    settings = load_settings(data_dir=scratch / "data", model_registry=scratch / "stage-registry")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [f"h{i:06d}" for i in range(len(headlines))]
    frame = pd.DataFrame({
        "article_id": ids, "feed_id": "bench", "url": [f"https://example.com/{i}" for i in ids],
        "title": headlines, "summary": None, "text": headlines,
        "published_at": [start + timedelta(minutes=i) for i in range(len(ids))], "published_raw": None,
        "date_quality": "exact", "first_seen_at": start, "fetched_at": start, "language": "en",
        "content_hash": [f"c{i}" for i in ids], "story_id": ids, "tickers": [[] for _ in ids],
    }, columns=ARTICLE_COLUMNS)
    rows = pd.DataFrame([(ids[i], k.ticker, k.method, k.relevance, k.mention)
                         for i, found in enumerate(links) for k in found], columns=LINK_COLUMNS)
    with connect(settings.db_path) as con:
        upsert_companies(con, company_rows(universe), start)
        upsert_articles(con, frame)
        replace_links(con, ids, rows)
    return settings


def time_stage(settings, classifier, repeats: int) -> dict:
    """Median seconds of ``pipeline.run.score`` with the article pass only, and with both
    (``entity_scoring`` "multi", the default, and "all")."""
    from pipeline.run import score

    runs: dict[str, list[float]] = {"article_only": [], "with_entity": [], "with_entity_all": []}
    counts = {}
    for rep in range(repeats):
        for name in runs:
            variant = copy.copy(classifier)
            variant.targeted = name != "article_only"
            variant.model_version = f"bench-{name}-{rep}"  # nothing scored yet under this version
            run_settings = settings.model_copy(
                update={"entity_scoring": "all" if name == "with_entity_all" else "multi"})
            started = time.perf_counter()
            result = score(run_settings, at=datetime(2026, 1, 1, tzinfo=UTC), classifier=variant)
            runs[name].append(time.perf_counter() - started)
            counts[name] = result.counts
    return {name: {"wall_s": statistics.median(r), "wall_runs": [round(v, 3) for v in r],
                   "counts": {k: v for k, v in counts[name].items() if isinstance(v, int)}}
            for name, r in runs.items()}


def load_backend(model: str, backend: str, scratch: Path, trained: bool):
    """The classifier on ``backend``; for ONNX, export a bench-trained model first. None if not
    possible (the reason is printed)."""
    from pipeline.errors import TonewatchError
    from pipeline.scoring.classifier import SentimentClassifier

    if backend.startswith("onnx") and not (Path(model) / "onnx").is_dir():
        if not trained:
            print(f"  {backend}: skipped (no ONNX export in {model}; "
                  f"`tonewatch model export-onnx` it first)")
            return None
        from pipeline.config import load_settings
        from pipeline.scoring.onnx_export import export_model

        started = time.perf_counter()
        export_model(load_settings(model_registry=scratch / "registry"), Path(model).name,
                     registry=None)
        print(f"  exported the bench model to ONNX in {time.perf_counter() - started:.0f} s")
    try:
        return SentimentClassifier(model, model_version="bench", backend=backend, device="cpu")
    except TonewatchError as exc:
        print(f"  {backend}: skipped ({str(exc).splitlines()[0][:160]})")
        return None


def entity_bench(args) -> dict:
    """Run the whole entity-pass benchmark; print the tables; return the headline figures."""
    print(cpu_summary())
    headlines, sources = load_headlines(args.entity_limit)
    universe, links, pairs, link_s = link_headlines(headlines)
    linked = sum(1 for found in links if found)
    n_pairs = len(pairs)
    print(f"headlines: {len(headlines)} ({', '.join(f'{v} {k}' for k, v in sources.items())}"
          f"{'; sampled' if args.entity_limit else ''}); universe {len(universe.companies)} "
          f"companies; linked in {link_s:.2f} s")
    print(f"linked: {linked} ({linked / len(headlines):.1%}); pairs {n_pairs} "
          f"({n_pairs / len(headlines):.3f} per headline, {n_pairs / max(linked, 1):.2f} per linked "
          f"headline)")
    pair_texts = [headlines[i] for i, _, _ in pairs]
    targets = [target for _, _, target in pairs]
    # entity_scoring "multi" (the default): only headlines linked to two or more companies.
    multi = [n for n, (i, _, _) in enumerate(pairs) if len({k.ticker for k in links[i]}) >= 2]
    print(f"default (entity_scoring multi): {len(multi)} pairs from headlines naming two or more "
          f"companies ({len(multi) / len(headlines):.3f} per headline); 'all': {n_pairs}")
    out = {"headlines": len(headlines), "linked_share": round(linked / len(headlines), 4),
           "pairs": n_pairs, "pairs_per_headline": round(n_pairs / len(headlines), 4),
           "pairs_default": len(multi), "backends": {}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        trained = args.model is None
        if trained:
            model, seconds = train_quick_model(scratch)
            print(f"model: trained here in {seconds:.0f} s (1 epoch on a 1,600-row sample of "
                  "models/corpus, 35 % company pairs): for timing only, its labels are poor")
        else:
            model = str(Path(args.model).resolve())
            print(f"model: {model}")
        flag = json.loads((Path(model) / "config.json").read_text()).get("tonewatch_targets", False)
        if not flag:
            raise SystemExit(f"{model} was not trained on company pairs (config.json has no "
                             "\"tonewatch_targets\": true): no entity pass to time")
        out["model"] = "trained by the bench (1 epoch, timing only)" if trained else model
        for backend in args.entity_backends:
            classifier = load_backend(model, backend, scratch, trained)
            if classifier is None:
                continue
            workloads = {"article": (headlines, None),
                         "entity": ([pair_texts[n] for n in multi], [targets[n] for n in multi]),
                         "entity_all": (pair_texts, targets),
                         "article_linked": ([h for h, found in zip(headlines, links, strict=True)
                                             if found], None)}
            shape = {name: padded_tokens(classifier, *w) for name, w in workloads.items()}
            timed = time_passes(classifier, workloads, args.entity_repeats)
            result = {"passes": timed, "shape": shape}
            if not args.no_stage:
                settings = stage_db(scratch / backend, headlines, links, universe)
                result["stage"] = time_stage(settings, classifier, args.entity_repeats)
            out["backends"][backend] = report(backend, result, len(headlines), n_pairs, len(multi))
        if args.save_model and trained:  # after the loop: an ONNX export made here goes along
            import shutil

            shutil.copytree(model, args.save_model, dirs_exist_ok=True)
            print(f"model saved to {args.save_model} (reuse with --model)")
    out["peak_rss_mib"] = round(peak_rss_mib())
    return out


def report(backend: str, result: dict, n_headlines: int, n_pairs: int, n_default: int) -> dict:
    """Print one backend's tables; return its headline figures."""
    passes, shape = result["passes"], result["shape"]
    print(f"\nbackend {backend} (median of {len(passes['article']['wall_runs'])} alternating runs)")
    print(f"{'pass':<22}{'rows':>7}{'wall s':>8}{'CPU s':>8}{'rows/s':>9}{'tok/row':>9}"
          f"{'padded tok':>12}{'fwd passes':>12}{'tokenize s':>12}")
    for name, label in (("article", "(a) article-level"), ("entity", "(b) pairs, default"),
                        ("entity_all", "(b*) every pair"), ("article_linked", "(a') linked only")):
        t, s = passes[name], shape[name]
        rate = s["rows"] / t["wall_s"] if t["wall_s"] else float("nan")
        print(f"{label:<22}{s['rows']:>7}{t['wall_s']:>8.2f}{t['cpu_s']:>8.2f}{rate:>9.1f}"
              f"{s['tokens_per_row']:>9.1f}{s['padded_tokens']:>12,}{s['passes']:>12}"
              f"{s['tokenize_s']:>12.3f}")
    ratio = passes["entity"]["wall_s"] / passes["article"]["wall_s"]
    ratio_cpu = passes["entity"]["cpu_s"] / passes["article"]["cpu_s"]
    tokens_ratio = shape["entity"]["padded_tokens"] / shape["article"]["padded_tokens"]
    ratio_all = passes["entity_all"]["wall_s"] / passes["article"]["wall_s"]
    print(f"entity pass (default) adds {ratio:.1%} to scoring (wall; CPU time {ratio_cpu:.1%}; padded "
          f"tokens {tokens_ratio:.1%}) -- requirement <= 50 %: {'met' if ratio <= 0.5 else 'NOT met'}")
    print(f"entity_scoring=all: every pair adds {ratio_all:.1%}")
    worst = passes["entity_all"]["wall_s"] / passes["article_linked"]["wall_s"]
    print(f"for scale: (b*)/(a') = {worst:.1%}, what scoring every pair would add if every headline "
          f"named a company ({n_pairs / shape['article_linked']['rows']:.2f} pairs per linked "
          "headline, as in per-company feeds)")
    figures = {
        "headlines_per_s": round(n_headlines / passes["article"]["wall_s"], 1),
        "pairs_per_s": round(n_default / passes["entity"]["wall_s"], 1),
        "pairs_per_s_all": round(n_pairs / passes["entity_all"]["wall_s"], 1),
        "entity_adds_pct": round(ratio * 100, 1), "entity_adds_cpu_pct": round(ratio_cpu * 100, 1),
        "entity_all_adds_pct": round(ratio_all * 100, 1),
        "padded_tokens_ratio_pct": round(tokens_ratio * 100, 1),
        "entity_adds_if_all_linked_pct": round(worst * 100, 1),
        "wall_runs": {k: v["wall_runs"] for k, v in passes.items()}}
    stage = result.get("stage")
    if stage:
        base, both = stage["article_only"]["wall_s"], stage["with_entity"]["wall_s"]
        every = stage["with_entity_all"]["wall_s"]
        print(f"score stage (pipeline.run.score, scratch DuckDB): article pass only {base:.2f} s, "
              f"with the entity pass {both:.2f} s (+{both / base - 1:.1%}; "
              f"runs {stage['article_only']['wall_runs']} / {stage['with_entity']['wall_runs']}); "
              f"counts {stage['with_entity']['counts']}")
        print(f"score stage with entity_scoring=all: {every:.2f} s (+{every / base - 1:.1%}; runs "
              f"{stage['with_entity_all']['wall_runs']}); counts {stage['with_entity_all']['counts']}")
        figures["stage_s"] = {"article_only": round(base, 2), "with_entity": round(both, 2),
                              "with_entity_all": round(every, 2)}
        figures["stage_entity_adds_pct"] = round((both / base - 1) * 100, 1)
        figures["stage_entity_all_adds_pct"] = round((every / base - 1) * 100, 1)
    return figures
