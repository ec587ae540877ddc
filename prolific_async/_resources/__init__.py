"""Resource namespaces: ``client.datasets``, ``client.batches`` and so on."""

from .batches import Batches
from .bonuses import Bonuses
from .collections import Collections
from .datasets import Datasets
from .hooks import Hooks
from .instructions import Instructions
from .studies import Studies
from .submissions import Submissions

__all__ = ["Batches", "Bonuses", "Collections", "Datasets", "Hooks", "Instructions", "Studies",
           "Submissions"]
