"""Worker processes change how fast a build runs, never what it writes."""

import json
from pathlib import Path

from fincorpus.config import Config, EngineConfig
from fincorpus.parallel import map_batches
from fincorpus.pipeline import OUTPUT_FILES, build

from conftest import seed_text


def _inputs(tmp_path: Path, seeds_dir: Path) -> list[Path]:
    """The seeds and 30 records of one site that share a template line (the cross-document pass)."""
    paragraphs = [line for name in ("001_a827ffee9d47bcba.txt", "004_c3137f6acd23163d.txt")
                  for line in seed_text(name).splitlines() if len(line) > 20]
    records = tmp_path / "site.jsonl"
    records.write_text("".join(
        json.dumps({"id": f"r{number:02d}", "url": f"https://news.example.com/{number}",
                    "text": f"{paragraphs[number % len(paragraphs)]}\n\n{paragraphs[(number * 7) % len(paragraphs)]}"
                            f"\n关注我们，获取每日研报精选\n"}, ensure_ascii=False) + "\n"
        for number in range(30)), encoding="utf-8")
    return [seeds_dir, records]


def test_a_build_with_two_workers_writes_the_same_bytes_as_one_process(tmp_path, seeds_dir):
    inputs = _inputs(tmp_path, seeds_dir)
    single = build(inputs, tmp_path / "single", Config(engine=EngineConfig(local_workers=1)))
    spread = build(inputs, tmp_path / "spread", Config(engine=EngineConfig(local_workers=2, batch_docs=4)))
    assert single.summary == spread.summary
    assert any("template" in rule for rule in single.tables.removed_spans["rule"].to_list())
    for name in OUTPUT_FILES:
        assert (tmp_path / "single" / name).read_bytes() == (tmp_path / "spread" / name).read_bytes(), name


def test_batches_come_back_in_input_order_from_any_number_of_workers():
    items = list(range(23))
    for engine in (EngineConfig(local_workers=1, batch_docs=5), EngineConfig(local_workers=2, batch_docs=5),
                   EngineConfig(local_workers=2, batch_docs=100)):
        assert map_batches(_squares, items, engine) == [item * item for item in items]


def _squares(batch):
    return [item * item for item in batch]
