"""The dedup engine's compiled kernels, compiled while Prefect starts its server.

numba compiles each kernel on its first call and caches it beside the source (`cache=True`), so only the
first build in a fresh checkout or environment pays for it: ~16 s for the 26 kernels a build calls, which
would add to the ~10 s Prefect takes to start its embedded server. The CLI runs `compile_kernels` in a
thread meanwhile (`compile_in_background`): three short documents that form a candidate pair and are
verified call every kernel a build calls. A build that reaches a kernel still being compiled waits for it
(numba compiles under one lock), then uses it.
"""

from __future__ import annotations

import threading

from fincorpus.config import DedupConfig
from fincorpus.dedup.engine import DedupResult, deduplicate

_BODY = ("华泰证券研究所发布深度报告：公司2024年营业收入同比增长12.5%，净利润达到3.2亿元，毛利率提升1.8个百分点。"
         "我们维持买入评级，目标价45.60元。风险提示：行业竞争加剧，原材料价格波动。\n") * 3


def sample_texts(config: DedupConfig) -> list[str]:
    """A report, its revision (one figure changed, a sentence added) and an unrelated text, each above
    `min_chars`, the first two with the config's first legal heading."""
    legal = f"\n{config.legal_headings[0]}\n本报告仅供参考，不构成投资建议。\n" if config.legal_headings else ""
    return [_BODY + legal, _BODY.replace("12.5", "12.6") + "补充说明：数据来自公司公告。" + legal,
            "中信证券点评：" + _BODY[::-1]]


def compile_kernels(config: DedupConfig) -> DedupResult:
    """Deduplicate `sample_texts` (compiling, or loading from numba's cache, every kernel a build calls)."""
    texts = sample_texts(config)
    return deduplicate([f"warm-{index}" for index in range(len(texts))], texts, config, threads=1)


def compile_in_background(config: DedupConfig) -> threading.Thread:
    """`compile_kernels` in a daemon thread (started): nothing waits for it, and a failure there is the
    build's own to report when it calls the same kernels."""
    thread = threading.Thread(target=_compile_quietly, args=(config,), name="fincorpus-compile", daemon=True)
    thread.start()
    return thread


def _compile_quietly(config: DedupConfig) -> None:
    try:
        compile_kernels(config)
    except Exception:  # noqa: BLE001 - the build calls the same kernels and reports what fails there
        pass
