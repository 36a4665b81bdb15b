"""fincorpus: clean, deduplicate and audit scraped Chinese financial text.

The library is the product; the CLI (`fincorpus.cli`) and the Prefect flows (`flows/`) are thin shells over it.

    >>> from fincorpus import load_config, build
    >>> result = build(["../shared/seeds"], "out", load_config(None))   # doctest: +SKIP
"""

from fincorpus.config import Config, load_config
from fincorpus.errors import FincorpusError, UserError
from fincorpus.pipeline import BuildResult, build

__all__ = ["BuildResult", "Config", "FincorpusError", "UserError", "build", "load_config"]
__version__ = "0.1.0"
