"""Reports rendered from the output tables alone, so `fincorpus report DIR` and a build give the same page."""

from fincorpus.report.markdown import render_markdown, summarize

__all__ = ["render_markdown", "summarize"]
