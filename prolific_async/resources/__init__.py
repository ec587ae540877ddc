"""Resource namespaces: ``client.datasets``, ``client.batches`` and so on."""

from .batches import UNSET, Batches
from .collections import Collections
from .datasets import Datasets, StatusSnapshot
from .instructions import Instructions
from .studies import Studies

__all__ = ["UNSET", "Batches", "Collections", "Datasets", "Instructions", "StatusSnapshot",
           "Studies"]
