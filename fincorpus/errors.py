"""Errors are classed by what happens next.

- `UserError`: a mistake the user can fix (missing input, bad config key). It stops the run before any
  work; the CLI prints its one-line message and exits 2. Never a traceback.
- An input problem with one document is *not* an exception that escapes: readers turn it into a
  quarantined lineage row (see `fincorpus.documents.Reason`) and the run goes on.
- `AccountingError`: the lineage does not account for every input. A bug: the run fails loudly, exit 1,
  and outputs are not switched in.
"""


class FincorpusError(Exception):
    """Base class of the project's own exceptions."""


class UserError(FincorpusError):
    """A mistake the user can fix; the message is one line that says what and how to fix it."""


class OutputError(UserError):
    """The output directory cannot be written (permission denied, disk full, I/O error). Still one line and
    exit 2, but it may clear by itself, so the Prefect tasks doing I/O retry it (and only it)."""


class AccountingError(FincorpusError):
    """Lineage does not account for every input exactly once: a bug, never a user error."""
