"""The persistent corpus store: `fincorpus update` adds batches to it, `fincorpus export` writes its current
corpus in the format of `fincorpus build`. Layout and guarantees: `fincorpus.store.layout`."""

from fincorpus.store.export import export_store
from fincorpus.store.layout import FORMAT, StoreLayout
from fincorpus.store.update import UpdateResult, apply_batch, update

__all__ = ["FORMAT", "StoreLayout", "UpdateResult", "apply_batch", "export_store", "update"]
