"""Entity-linking benchmark (run by hand): throughput, and precision/recall on a labelled sample.

1. **Throughput**: ``--articles`` (default 20,000) generated articles, each a headline and a
   summary of about 30 words, built from invented templates around surfaces drawn from the
   universe (names, aliases, short forms, cashtags, exchange prefixes, Reuters codes, and
   ordinary words used as plain words), linked one after another on one core against the full
   universe (defaults + ``config/companies.yaml``). Reported: articles/s, and the one-off costs
   of loading the universe and building the automaton.
2. **Quality**: ``tests/fixtures/linking/sample.jsonl`` (written for this project: each item a
   headline, optional summary, categories and feed ticker, the expected tickers and a tag for
   how the companies are named). Micro precision and recall over (item, ticker) pairs overall,
   precision per link method, recall per tag. This sample was written while the rules were
   tuned, so its figures are optimistic.
3. **Held-out quality**: ``tests/fixtures/linking/heldout.jsonl``, written afterwards by someone
   who had not read the rules (392 items, 346 expected pairs: companies named every way news
   names them, ordinary-word names as companies and as plain words, unlisted companies, macro
   items). The honest figure. Also listed: every false link and every missed company.

Usage: .venv/bin/python bench/linking.py [--articles 20000] [--seed 7]
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import cpu_summary  # noqa: E402  (bench/ is on sys.path when run as a script)

SAMPLE = ROOT / "tests" / "fixtures" / "linking" / "sample.jsonl"
HELDOUT = ROOT / "tests" / "fixtures" / "linking" / "heldout.jsonl"
HEADLINES = ["{s} shares fall after quarterly results", "{s} raises full-year outlook",
             "{s}'s chief executive to step down", "Analysts upgrade {s} on cloud growth",
             "{s} agrees to buy rival for $2 billion", "Regulators fine {s} over reporting",
             "{s} to cut 1,200 jobs", "Investors cheer {s} buyback", "{s} misses estimates"]
FILLER = ("the company said in a statement on Tuesday that demand in its largest markets had "
          "weakened during the quarter while costs for energy and wages kept rising and that it "
          "expects conditions to improve next year as new products reach customers").split()
PLAIN = ["apple orchards", "a shell company", "the next step", "their target range",
         "a visa waiver", "a block of shares", "general election", "sage advice"]



def make_articles(universe, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (headline, ~30-word summary) pairs naming companies in varied ways."""
    rng = random.Random(seed)
    companies = list(universe)
    out = []
    for _ in range(n):
        c = rng.choice(companies)
        style = rng.random()
        if style < 0.5:
            subject = rng.choice((c.name, *c.aliases))
        elif style < 0.65:
            subject = f"{c.name} (NYSE: {c.ticker})"
        elif style < 0.8:
            subject = f"${c.ticker}"
        else:
            subject = f"{c.name} <{c.ticker.split('.')[0]}.L>"
        other = rng.choice(companies)
        start = rng.randrange(len(FILLER) - 26)
        summary = " ".join(FILLER[start:start + 24]) + f", {other.name} and {rng.choice(PLAIN)}."
        out.append((rng.choice(HEADLINES).format(s=subject), summary))
    return out


def evaluate(linker, sample: Path = SAMPLE) -> dict:
    """Micro precision/recall on a labelled sample, per method and per tag (items without a
    tag count as ``untagged``); ``errors`` lists false links and misses."""
    tp = fp = fn = 0
    by_method = defaultdict(lambda: [0, 0])  # method -> [correct, predicted]
    by_tag = defaultdict(lambda: [0, 0])  # tag -> [found, expected]
    errors = []
    items = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line]
    for it in items:
        links = linker.link(it["title"], it.get("summary", ""), categories=it.get("categories", ()),
                            feed_ticker=it.get("feed_ticker"))
        expected, got = set(it["expected"]), {k.ticker for k in links}
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
        if got != expected:
            errors.append((it["title"], sorted(got - expected), sorted(expected - got)))
        for k in links:
            by_method[k.method][0] += k.ticker in expected
            by_method[k.method][1] += 1
        tag = it.get("tag", "untagged")
        by_tag[tag][0] += len(got & expected) if expected else int(not got)
        by_tag[tag][1] += len(expected) if expected else 1
    return {"items": len(items), "pairs": tp + fn, "precision": tp / max(tp + fp, 1),
            "recall": tp / max(tp + fn, 1), "by_method": dict(by_method), "by_tag": dict(by_tag),
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from pipeline.companies import Linker, load_universe
    from pipeline.companies.universe import default_universe

    t0 = time.perf_counter()
    default_universe()
    t_default = time.perf_counter() - t0
    universe = load_universe(ROOT / "config" / "companies.yaml")
    t_universe = time.perf_counter() - t0
    t0 = time.perf_counter()
    linker = Linker(universe)
    t_build = time.perf_counter() - t0
    articles = make_articles(universe, args.articles, args.seed)
    words = sum(len(t.split()) + len(s.split()) for t, s in articles) / len(articles)
    t0 = time.perf_counter()
    links = sum(len(linker.link(t, s)) for t, s in articles)
    elapsed = time.perf_counter() - t0
    rate = len(articles) / elapsed
    quality = evaluate(linker)

    print(f"{cpu_summary()}; Python {platform.python_version()}; one core")
    print(f"universe: {len(universe)} companies, {len(universe.surfaces)} surfaces; default universe "
          f"load {t_default * 1000:.0f} ms (disk cache warm if run before), with user file "
          f"{t_universe * 1000:.0f} ms; automaton build {t_build * 1000:.0f} ms")
    print(f"\n{'throughput':<28}{'value':>12}")
    print(f"{'articles':<28}{len(articles):>12}")
    print(f"{'words per article':<28}{words:>12.1f}")
    print(f"{'links per article':<28}{links / len(articles):>12.2f}")
    print(f"{'articles/s':<28}{rate:>12,.0f}")
    print(f"{'target articles/s':<28}{5000:>12,}")
    print(f"\nlabelled sample: {quality['items']} items, {quality['pairs']} expected (item, ticker) pairs")
    print(f"{'method':<18}{'correct':>9}{'linked':>8}{'precision':>11}")
    for method, (ok, n) in sorted(quality["by_method"].items()):
        print(f"{method:<18}{ok:>9}{n:>8}{ok / n:>11.3f}")
    print(f"\n{'how named (tag)':<18}{'found':>9}{'of':>8}{'recall':>11}   (none/outside/ordinary_word: "
          "items correctly left without a link)")
    for tag, (ok, n) in sorted(quality["by_tag"].items()):
        print(f"{tag:<18}{ok:>9}{n:>8}{ok / n:>11.3f}")
    print(f"\noverall precision {quality['precision']:.3f}, recall {quality['recall']:.3f}")
    heldout = evaluate(linker, HELDOUT) if HELDOUT.exists() else None
    if heldout:
        print(f"\nheld-out sample (written without the rules): {heldout['items']} items, "
              f"{heldout['pairs']} expected pairs")
        print(f"{'method':<18}{'correct':>9}{'linked':>8}{'precision':>11}")
        for method, (ok, n) in sorted(heldout["by_method"].items()):
            print(f"{method:<18}{ok:>9}{n:>8}{ok / n:>11.3f}")
        print(f"held-out precision {heldout['precision']:.3f}, recall {heldout['recall']:.3f}")
        for title, wrong, missed in heldout["errors"]:
            print(f"  {'false ' + ','.join(wrong) if wrong else '':<22}"
                  f"{'missed ' + ','.join(missed) if missed else '':<22}{title[:90]}")
    print(json.dumps({"articles_per_s": round(rate), "articles": len(articles),
                      "universe_companies": len(universe), "default_universe_load_ms": round(t_default * 1000),
                      "automaton_build_ms": round(t_build * 1000),
                      "sample_items": quality["items"], "precision": round(quality["precision"], 4),
                      "recall": round(quality["recall"], 4),
                      **({"heldout_items": heldout["items"], "heldout_pairs": heldout["pairs"],
                          "heldout_precision": round(heldout["precision"], 4),
                          "heldout_recall": round(heldout["recall"], 4)} if heldout else {})}))


if __name__ == "__main__":
    main()
