"""The dedup engine's compiled kernels, compiled while Prefect starts its server.

numba compiles each kernel on its first call and caches it beside the source (`cache=True`), so only the
first build in a fresh checkout or environment pays for it: ~11 s for the 26 kernels a build calls, which
would add to the ~10 s Prefect takes to start its embedded server. The CLI starts `compile_in_background`
first: a process of its own (numba compiles under the GIL, which Prefect's start needs too) that
deduplicates three short documents (a report, its revision and another text, which reach verification, so
every kernel a build calls is compiled and cached). `deduplicate` waits for that process before its first
kernel (`wait_for_kernels`), then loads what it cached. With the cache already warm the process only loads
it and ends long before a build reaches dedup.
"""

from __future__ import annotations

import subprocess
import sys

from fincorpus.config import DedupConfig

_BODY = ("华泰证券研究所发布深度报告：公司2024年营业收入同比增长12.5%，净利润达到3.2亿元，毛利率提升1.8个百分点。"
         "我们维持买入评级，目标价45.60元。风险提示：行业竞争加剧，原材料价格波动。\n") * 3
_WAIT_SECONDS = 120
"""How long `deduplicate` waits for the compiling process at most (~11 s on an idle 2-core machine); then it
stops the process and compiles what is missing itself."""

_background: subprocess.Popen | None = None


def sample_texts(config: DedupConfig) -> list[str]:
    """A report, its revision (one figure changed, a sentence added) and an unrelated text, each above
    `min_chars`, the first two with the config's first legal heading."""
    legal = f"\n{config.legal_headings[0]}\n本报告仅供参考，不构成投资建议。\n" if config.legal_headings else ""
    return [_BODY + legal, _BODY.replace("12.5", "12.6") + "补充说明：数据来自公司公告。" + legal,
            "中信证券点评：" + _BODY[::-1]]


def compile_kernels(config: DedupConfig):
    """Deduplicate `sample_texts` (compiling, or loading from numba's cache, every kernel a build calls)."""
    from fincorpus.dedup.engine import deduplicate

    texts = sample_texts(config)
    return deduplicate([f"warm-{index}" for index in range(len(texts))], texts, config, threads=1)


def compile_in_background() -> subprocess.Popen | None:
    """Start a process that runs `compile_kernels` with the default config (kernels depend on types, not
    values); `wait_for_kernels` waits for it. Its output is discarded, and a process that cannot start is
    none: either way the build compiles what it lacks itself, and reports what fails there."""
    global _background
    try:
        _background = subprocess.Popen(
            [sys.executable, "-c", "from fincorpus.config import DedupConfig; "
             "from fincorpus.dedup.warm import compile_kernels; compile_kernels(DedupConfig())"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:  # no interpreter to start (an embedded Python): compile in the build, as without this
        _background = None
    return _background


def wait_for_kernels() -> None:
    """Wait for the process `compile_in_background` started, if any (at most `_WAIT_SECONDS`)."""
    global _background
    process, _background = _background, None
    if process is not None:
        try:
            process.wait(timeout=_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
