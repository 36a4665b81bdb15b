"""A labelled synthetic corpus of Chinese broker-report text for the dedup accuracy benchmark.

Every document belongs to a `family`: a base report and the forms it takes in the wild. Pairs in one
family are duplicates, every other pair is not. Text comes from the real headlines and report titles in
`../shared/corpus/` cut into 2-4 character pieces and recombined, so that each report's 5-grams are its
own while its vocabulary is real; the broker legal pages are seed 004's (华泰) with the broker renamed.

Forms of a report (its variants, 0-6 per family, some composed):
- exact copy; width swap (half-width punctuation, full-width digits and letters); traditional characters;
- preview: the first 25-80% of the text, cut mid-sentence, under an aggregator's chrome;
- paragraph shuffle; character edits at 5-15% (substitutions, insertions, deletions; figures are kept,
  since a copy with other figures is another document);
- emoji and site-chrome wrapping; blog repost (legal pages dropped, emoji summary, ads).

Hard negatives, each its own family: reports sharing a broker's long legal pages; templated daily
reports that differ only in their figures; reports that reuse one or two paragraphs of another report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import opencc
import polars as pl

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "headlines_and_report_titles.parquet"
SEED_004 = REPO.parent / "shared" / "seeds" / "004_c3137f6acd23163d.txt"

BROKERS = ["华泰证券", "中信证券", "国泰君安", "海通证券", "招商证券", "广发证券", "申万宏源", "东吴证券",
           "兴业证券", "光大证券", "中金公司", "国信证券", "天风证券", "开源证券", "民生证券", "上海证券"]
SITES = [
    ("您的浏览器禁用了JavaScript，导致页面无法正常显示，请解除该禁用。\n当前位置：首页/行业研究/报告详情/",
     "\n查看更多 | 下载报告 | 发现报告 版权所有"),
    ("萝卜投研 · 研报精选\n作者：研究员 2年前 阅读 {n} 评论 {m}", "\n加入知识星球，获取更多研报。扫码右边公众号，回复关键字。\n相关文章"),
    ("慧博投研资讯 首页 > 研究报告 > 正文", "\n联系客服 服务热线 400-{n}-{m} 工作日8:30-18:00"),
    ("【财经早参】 来源：网络 编辑：小编 {n}", "\n免责声明：本文转载自网络，仅供参考，不构成投资建议。如有侵权请联系删除。"),
    ("雪球 | 长文 | {n}人已读", "\n风险提示：本内容仅代表作者观点。喜欢请点赞、在看、转发三连！"),
]
EMOJI = ["🚀", "🔥", "📈", "💰", "🌟", "👉", "✅", "💡", "📊", "🎯"]
TEMPLATES = [
    "{date}A股市场日报\n\n今日沪指收于{n}点，{dir}{p}%，深成指收于{n}点，{dir}{p}%，创业板指{dir}{p}%。两市成交额{n}亿元，"
    "较上一交易日{dir2}{n}亿元。北向资金净{flow}{p}亿元。\n\n行业方面，{n}个申万一级行业上涨，涨幅居前的是电子（{p}%）、"
    "计算机（{p}%）和通信（{p}%）；跌幅居前的是煤炭（-{p}%）、银行（-{p}%）。\n\n个股方面，两市{n}只个股上涨，{n}只下跌，"
    "涨停{n}只，跌停{n}只。融资余额{n}亿元，较前一日{dir2}{p}亿元。",
    "{fund}基金月度报告（{date}）\n\n截至本月末，基金份额净值为{p}元，累计净值{p}元，本月净值增长率{p}%，"
    "同期业绩比较基准收益率{p}%。基金资产净值{n}万元，股票仓位{p}%，债券仓位{p}%。\n\n前十大重仓股合计占比{p}%，"
    "第一大重仓股占基金资产净值{p}%。本月换手率{p}%，基金经理管理规模{n}亿元。",
    "{date}债券市场周报\n\n本周10年期国债收益率{dir}{p}个基点至{p}%，1年期国债收益率{dir}{p}个基点至{p}%，期限利差{p}个基点。"
    "\n\n央行本周通过公开市场操作净投放{n}亿元，DR007均值{p}%，R007均值{p}%。信用债发行{n}亿元，净融资{n}亿元，"
    "城投债发行{n}只，平均票面利率{p}%。",
]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    pieces: list[str]
    characters: str
    disclaimer: str


def load_vocabulary() -> Vocabulary:
    texts = pl.read_parquet(CORPUS, columns=["text"])["text"].to_list()
    rng = random.Random(0)
    pieces: list[str] = []
    for text in texts:
        text = "".join(text.split())
        position = 0
        while position < len(text):
            size = rng.randint(2, 4)
            pieces.append(text[position:position + size])
            position += size
    characters = "".join(sorted({char for text in texts for char in text if "\u4e00" <= char <= "\u9fff"}))
    seed = SEED_004.read_text(encoding="utf-8")
    return Vocabulary(pieces, characters, seed[seed.index("免责声明"):])


class Generator:
    def __init__(self, seed: int, vocabulary: Vocabulary) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = vocabulary
        self.to_traditional = opencc.OpenCC("s2t")

    def sentence(self) -> str:
        rng = self.rng
        words = rng.choices(self.vocabulary.pieces, k=rng.randint(6, 16))
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words)), self.figure())
        clause = rng.randrange(2, len(words)) if len(words) > 3 else 1
        return "".join(words[:clause]) + "，" + "".join(words[clause:]) + "。"

    def figure(self) -> str:
        rng = self.rng
        return rng.choice([f"{rng.uniform(-30, 80):.2f}%", f"{rng.randint(1, 9999)}亿元", f"{rng.uniform(1, 500):.1f}元",
                           f"{rng.randint(2015, 2025)}年{rng.randint(1, 12)}月", f"{rng.randint(100, 99999)}万股"])

    def paragraph(self) -> str:
        return "".join(self.sentence() for _ in range(self.rng.randint(2, 6)))

    def report(self, broker: str | None) -> str:
        rng = self.rng
        title = "".join(rng.choices(self.vocabulary.pieces, k=rng.randint(5, 9)))
        head = f"{title}\n\n{broker or '研究所'} 分析师：{''.join(rng.choices(self.vocabulary.characters, k=2))} " \
               f"执业证书编号：S{rng.randint(1000000000000, 9999999999999)}"
        body = "\n\n".join(self.paragraph() for _ in range(rng.randint(3, 12)))
        text = f"{head}\n\n{body}"
        if broker:
            text += "\n\n" + self.vocabulary.disclaimer.replace("华泰证券", broker).replace("华泰", broker[:2])
        return text

    def templated(self) -> str:
        rng = self.rng
        template = rng.choice(TEMPLATES)
        date = f"{rng.randint(2019, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        fund = rng.choice(["稳健增长混合", "价值精选股票", "红利低波指数", "科技创新混合"])
        pieces = template.split("{")
        out = [pieces[0]]
        for piece in pieces[1:]:
            name, rest = piece.split("}", 1)
            out.append({"date": date, "fund": fund, "n": str(rng.randint(10, 99999)),
                        "p": f"{rng.uniform(0.01, 9.99):.2f}", "dir": rng.choice(["上涨", "下跌"]),
                        "dir2": rng.choice(["增加", "减少"]), "flow": rng.choice(["流入", "流出"])}[name] + rest)
        return "".join(out)

    def reuse(self, other: str) -> str:
        """A new report that quotes paragraphs of `other`: at most a quarter of `other`'s body, and at
        most a quarter of the new report."""
        own = self.report(self.rng.choice(BROKERS + [None])).split("\n\n")
        body = other.split("\n\n免责声明")[0]
        budget = min(len(body), sum(map(len, own))) // 4
        for part in self.rng.sample(body.split("\n\n")[2:], len(body.split("\n\n")[2:])):
            if len(part) <= budget:
                own.insert(self.rng.randrange(1, len(own)), part)
                budget -= len(part)
        return "\n\n".join(own)

    # ---- forms of one report ----
    def variant(self, text: str) -> tuple[str, str]:
        rng = self.rng
        kind = rng.choice(["exact", "width", "traditional", "preview", "shuffle", "edit", "wrap", "repost",
                           "composed"])
        if kind == "composed":
            first, second = rng.sample(["width", "traditional", "preview", "shuffle", "edit", "wrap"], 2)
            return f"{first}+{second}", getattr(self, second)(getattr(self, first)(text))
        return kind, getattr(self, kind)(text)

    def exact(self, text: str) -> str:
        return text

    def width(self, text: str) -> str:
        half = str.maketrans("，。：；（）！？", ",.:;()!?")
        full = {code: code + 0xFEE0 for code in range(0x21, 0x7F) if chr(code).isalnum()}
        return text.translate(half).translate(full)

    def traditional(self, text: str) -> str:
        return self.to_traditional.convert(text)

    def preview(self, text: str) -> str:
        keep = int(len(text) * self.rng.uniform(0.25, 0.8))
        header, footer = self.rng.choice(SITES[:3])
        return self._fill(header) + "\n" + text[:keep] + self._fill(footer)

    def shuffle(self, text: str) -> str:
        """The body's paragraphs in another order (an extraction that read the columns differently); the
        legal pages stay at the end."""
        body, legal, rest = text.partition("\n\n免责声明")
        paragraphs = body.split("\n\n")
        self.rng.shuffle(paragraphs)
        return "\n\n".join(paragraphs) + legal + rest

    def edit(self, text: str) -> str:
        rng = self.rng
        rate = rng.uniform(0.05, 0.15)
        out: list[str] = []
        for char in text:
            if "\u4e00" <= char <= "\u9fff" and rng.random() < rate:
                action = rng.random()
                if action < 0.6:
                    out.append(rng.choice(self.vocabulary.characters))
                elif action < 0.8:
                    continue
                else:
                    out.extend((char, rng.choice(self.vocabulary.characters)))
            else:
                out.append(char)
        return "".join(out)

    def wrap(self, text: str) -> str:
        rng = self.rng
        header, footer = rng.choice(SITES)
        sentences = text.split("。")
        decorated = "。".join(part + (rng.choice(EMOJI) if rng.random() < 0.2 else "") for part in sentences)
        return self._fill(header) + "\n" + decorated + self._fill(footer)

    def repost(self, text: str) -> str:
        body = text.split("\n\n免责声明")[0]
        summary = "".join(self.rng.choice(EMOJI) + "".join(self.rng.choices(self.vocabulary.pieces, k=6))
                          for _ in range(3))
        header, footer = self.rng.choice(SITES[1:])
        return self._fill(header) + "\n" + summary + "\n\n" + body + self._fill(footer)

    def _fill(self, chrome: str) -> str:
        return chrome.format(n=self.rng.randint(100, 9999), m=self.rng.randint(10, 999))


def generate(count: int, seed: int = 0, vocabulary: Vocabulary | None = None) -> pl.DataFrame:
    """`count` documents: doc_id, text, family, kind (`base`, a variant kind, `templated`, `reuse`)."""
    generator = Generator(seed, vocabulary or load_vocabulary())
    rng = generator.rng
    rows: list[tuple[str, str, int, str]] = []
    bases: list[str] = []
    family = 0
    while len(rows) < count:
        roll = rng.random()
        if roll < 0.08:
            text, kind = generator.templated(), "templated"
        elif roll < 0.16 and bases:
            text, kind = generator.reuse(rng.choice(bases)), "reuse"
        else:
            text, kind = generator.report(rng.choice(BROKERS) if rng.random() < 0.6 else None), "base"
        bases.append(text)
        if len(bases) > 200:
            bases.pop(0)
        members = [(kind, text)]
        forms = rng.choices([0, 1, 2, 3, 4, 6], weights=[45, 22, 14, 10, 6, 3])[0]
        members += [generator.variant(text) for _ in range(forms)]
        for member_kind, member_text in members[:count - len(rows)]:
            rows.append((f"d{len(rows):07d}", member_text, family, member_kind))
        family += 1
    order = list(range(len(rows)))
    rng.shuffle(order)  # families are not contiguous in the input
    shuffled = [rows[index] for index in order]
    return pl.DataFrame(
        [(f"d{position:07d}", text, family, kind) for position, (_, text, family, kind) in enumerate(shuffled)],
        schema={"doc_id": pl.String, "text": pl.String, "family": pl.Int64, "kind": pl.String}, orient="row")
