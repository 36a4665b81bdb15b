"""Reports rendered from the output tables alone, so `fincorpus report DIR` and a build give the same page.

`report.md` (a short summary), `summary.json` (every count, for alerting) and `report.html` (the audit page).
"""

from fincorpus.report.html import Limits, render_html
from fincorpus.report.markdown import render_markdown
from fincorpus.report.summary import render_summary_json, summarize, summary_document

__all__ = ["Limits", "render_html", "render_markdown", "render_summary_json", "summarize", "summary_document"]
