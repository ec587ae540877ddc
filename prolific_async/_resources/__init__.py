"""Resource namespaces: ``client.datasets``, ``client.batches`` and so on."""

from .batches import Batches
from .collections import Collections
from .datasets import Datasets
from .hooks import Hooks
from .instructions import Instructions
from .studies import Studies

__all__ = ["Batches", "Collections", "Datasets", "Hooks", "Instructions", "Studies"]
