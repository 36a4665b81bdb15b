"""Cleaning throughput on a synthetic corpus with 5% mojibake documents, next to ftfy on everything.

    python3 bench/bench_clean.py [--mb 8] [--seed 7]

The corpus is built from the real headlines and report titles in ../shared/corpus (joined into documents of
about 8 KB, headlines as lines and titles run together into paragraphs) and the five seeds; a share of the
documents get the seeds' web chrome (banner, breadcrumb, widgets, footers, blog header, ads, an emoji rewrite),
5% are written in traditional characters (OpenCC s2t, as a Hong Kong or Taiwan site has them) and 5% are turned
into mojibake (UTF-8 read as Windows-1252). Everything runs in this one process, so the figures are per core:
CPU seconds of this process, best of `--repeat`. MB are megabytes of UTF-8 input text.

The cleaning stage is `CleaningChain.clean_all` over the whole corpus, as the pipeline runs it (one cleaner at a
time over the batch); the row below it takes the same chain through one document at a time. Below the table,
the stage breakdown: CPU seconds inside each cleaner (each on the text the cleaners before it left), and the
chain's own bookkeeping (mapping removals back to the text as read).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import ftfy
import ftfy.bad_codecs  # noqa: F401  registers "sloppy-windows-1252"
import opencc
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cleaners import CleaningChain, build_chain  # noqa: E402
from fincorpus.config import CleaningConfig  # noqa: E402

SHARED = REPO.parent / "shared"
HEADER_CHROME = [
    "您的浏览器禁用了JavaScript(一种计算机语言,用以实现您与网页的交互),请解除该禁用,或者联系我们。{title} - 发现报告\n"
    "当前位置:首页/行业研究/报告详情/\n\n{title}\n\n文化传媒2023-03-29上海证券李***\nAI智能总结\n查看更多\n",
    "{title}.pdf\n\n2023-12-18\n2页\n1MB\n\n",
    "{title}\n\n风险与机遇 2年前 (2023) lida\n50 0 0\n\n文章主题:ChatGPT, AI产业革命\n\n666ChatGPT办公新姿势,助力做AI时代先行者!\n\n",
]
FOOTER_CHROME = [
    "\n(本文仅供参考,不代表我们的任何投资建议。如需使用相关信息,请参阅报告原文。)\n\n{title}.pdf-第一页\n"
    "联系烽火研报客服烽火研报客服头像\n  • 服务热线\n  • 4000832158\n  • 客服微信\n  • 工作日8:30-18:00\n",
    "\n{title}\n\n加入知识星球\n\n即时获取各大券商非公开调研纪要\n\n扫码右边公众号,驾驭AI生产力!\n\n相关文章\n",
]
REWRITE = ("🌟【{title}】🚀🔥{line}📈🔍国产厂商们,这无疑是一次机遇与挑战并存的时刻!🌱💡记得关注我们!💻🌐\n\n"
           "❶模型层:百度\n\n❷算力层:景嘉微、寒武纪\n\n")


def synthesise(megabytes: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    corpus = pl.read_parquet(SHARED / "corpus" / "headlines_and_report_titles.parquet")
    headlines = corpus.filter(pl.col("kind") == "headline")["text"].to_list()
    titles = corpus.filter(pl.col("kind") == "research_report_title")["text"].to_list()
    seeds = [path.read_text(encoding="utf-8") for path in sorted((SHARED / "seeds").glob("*.txt"))]
    to_traditional = opencc.OpenCC("s2t")
    documents: list[str] = []
    size = 0
    while size < megabytes * 1e6:
        if rng.random() < 0.02:
            text = rng.choice(seeds)
        else:
            title = rng.choice(titles)
            body: list[str] = []
            while sum(map(len, body)) < 2800:  # about 8 KB of UTF-8
                if rng.random() < 0.5:
                    body.append(rng.choice(headlines).strip())
                else:
                    body.append(",".join(rng.choice(titles) for _ in range(rng.randint(3, 8))) + "。")
            text = title + "\n\n" + "\n\n".join(body) + "\n"
            if rng.random() < 0.3:
                text = rng.choice(HEADER_CHROME).format(title=title) + text
            if rng.random() < 0.3:
                text += rng.choice(FOOTER_CHROME).format(title=title)
            if rng.random() < 0.05:
                text = REWRITE.format(title=title, line=body[0]) + text
        draw = rng.random()
        if draw < 0.05:
            text = text.encode("utf-8").decode("sloppy-windows-1252")
        elif draw < 0.10:
            text = to_traditional.convert(text)
        documents.append(text)
        size += len(text.encode("utf-8"))
    return documents


def timed(label: str, function, documents: list[str], megabytes: float, repeat: int,
          batch: bool = False) -> tuple[str, float, float]:
    """Best of `repeat` runs, in CPU seconds of this process: the figure per core, and the least disturbed
    by whatever else shares the machine. `batch`: `function` takes the whole list, else one text at a time."""
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        if batch:
            function(documents)
        else:
            for text in documents:
                function(text)
        runs.append(time.process_time() - start)
    return label, min(runs), megabytes / min(runs)


class _Timed:
    """A cleaner that adds the CPU seconds it takes to `seconds[name]`, and counts its calls."""

    def __init__(self, cleaner, seconds: dict[str, float], calls: list[int]) -> None:
        self.cleaner, self.name, self.seconds, self.calls = cleaner, cleaner.name, seconds, calls
        for flag in ("rewrites", "layout_only"):
            if hasattr(cleaner, flag):
                setattr(self, flag, getattr(cleaner, flag))

    def __call__(self, text: str):
        start = time.process_time()
        result = self.cleaner(text)
        self.seconds[self.name] = self.seconds.get(self.name, 0.0) + time.process_time() - start
        self.calls[0] += 1
        return result


def stages(chain: CleaningChain, documents: list[str], repeat: int) -> tuple[float, dict[str, float]]:
    """CPU seconds of the cleaning stage and inside each of its cleaners, from the least disturbed of `repeat`
    runs; what the timers themselves cost is taken out of the chain's own share."""
    best: tuple[float, dict[str, float]] | None = None
    for _ in range(repeat):
        seconds: dict[str, float] = {}
        calls = [0]
        timed_chain = CleaningChain([_Timed(cleaner, seconds, calls) for cleaner in chain.cleaners])
        start = time.process_time()
        timed_chain.clean_all(documents)
        total = time.process_time() - start
        timers = calls[0] * _timer_cost()
        seconds["chain bookkeeping"] = total - timers - sum(seconds.values())
        if best is None or total - timers < best[0]:
            best = (total - timers, seconds)
    return best


def _timer_cost() -> float:
    """CPU seconds of the two clock readings around a timed call."""
    start = time.process_time()
    for _ in range(10_000):
        time.process_time()
    return 2 * (time.process_time() - start) / 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=8.0, help="corpus size in MB of UTF-8 text (default 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best is shown (default 3)")
    parser.add_argument("--per-cleaner", action="store_true",
                        help="also time each cleaner alone on the raw documents")
    args = parser.parse_args()
    documents = synthesise(args.mb, args.seed)
    megabytes = sum(len(text.encode("utf-8")) for text in documents) / 1e6
    mojibake = sum(1 for text in documents if "å" in text or "ä" in text or "è" in text)
    traditional = sum(1 for text in documents if "證" in text or "報" in text or "開" in text)
    chain = build_chain(CleaningConfig())
    chain("warm up: 华泰研究")
    rows = [timed("fincorpus cleaning stage (default config)", chain.clean_all, documents, megabytes, args.repeat,
                  batch=True),
            timed("  the same chain, one document at a time", chain, documents, megabytes, args.repeat),
            timed("ftfy.fix_text on every document (baseline)", ftfy.fix_text, documents, megabytes, 1)]
    if args.per_cleaner:
        rows += [timed(f"  {cleaner.name} alone", cleaner, documents, megabytes, args.repeat)
                 for cleaner in chain.cleaners]
    print(f"{len(documents)} documents, {megabytes:.1f} MB, {mojibake} with mojibake "
          f"({mojibake / len(documents):.0%}), {traditional} in traditional characters "
          f"({traditional / len(documents):.0%}); one process (per core), CPU seconds, best of {args.repeat}\n")
    print(f"| {'method':<45} | {'seconds':>8} | {'MB/s':>7} |")
    print(f"|{'-' * 47}|{'-' * 10}|{'-' * 9}|")
    for label, seconds, rate in rows:
        print(f"| {label:<45} | {seconds:>8.2f} | {rate:>7.1f} |")
    total, seconds = stages(chain, documents, args.repeat)
    print(f"\nstage breakdown (a timer around each cleaner, its own cost taken out: {total:.2f} s)\n")
    print(f"| {'stage':<25} | {'seconds':>8} | {'share':>6} |")
    print(f"|{'-' * 27}|{'-' * 10}|{'-' * 8}|")
    for name, spent in seconds.items():
        print(f"| {name:<25} | {spent:>8.3f} | {spent / total:>6.0%} |")


if __name__ == "__main__":
    main()
