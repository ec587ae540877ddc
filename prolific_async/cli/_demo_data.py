"""The demo's data: small, realistic product reviews to label, and the questions asked.

Everything is drawn from a seeded generator, so the same seed writes the same files.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import prolific_async as pa

__all__ = ["DETAILS", "QUESTIONS", "write_reviews"]

_PRODUCTS = {
    "kettle": ["boils fast", "the lid sticks", "leaves a plastic taste", "quiet and quick"],
    "headphones": ["great bass", "the left ear cut out", "comfortable for hours",
                   "the case is flimsy"],
    "running shoes": ["light and springy", "blisters after a week", "true to size",
                      "the sole peeled off"],
    "desk lamp": ["warm light, easy on the eyes", "flickers at low brightness",
                  "the arm will not stay up", "looks better than the photos"],
    "coffee grinder": ["even grind for espresso", "so loud it wakes the house",
                       "hard to clean", "holds its settings"],
    "backpack": ["fits a 16-inch laptop", "a strap tore in a month", "waterproof in a storm",
                 "too many pockets to find anything"],
}
_OPENERS = ["Bought this for my partner:", "Second one I've owned.", "Honest review:",
            "After three months of daily use,", "Gift for my dad.", "Ordered on a whim."]
_VERDICTS = ["Would buy again.", "Returned it.", "Fine for the price.",
             "Not what the listing promised.", "Five stars, no notes.", "Meh."]

QUESTIONS: list[pa.Instruction] = [
    pa.MultipleChoice(
        description="What is the overall sentiment of this review?", answer_limit=1,
        options=[pa.Option(label="Positive", value="positive"),
                 pa.Option(label="Mixed", value="mixed"),
                 pa.Option(label="Negative", value="negative")]),
    pa.FreeText(description="In a few words, what is the reviewer's main point?"),
]

DETAILS = pa.TaskDetails(
    task_name="Label product reviews",
    task_introduction="<p>Read short customer reviews of household products.</p>",
    task_steps="<ol><li>Read the review.</li><li>Choose its sentiment.</li>"
               "<li>Sum up its main point.</li></ol>",
)


def write_reviews(path: Path, rng: random.Random, rows: int = 8) -> Path:
    """Write ``rows`` made-up reviews (id, product, rating, text) as CSV to ``path``."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["review_id", "product", "rating", "review"])
        for n in range(rows):
            product = rng.choice(sorted(_PRODUCTS))
            points = rng.sample(_PRODUCTS[product], 2)
            text = (f"{rng.choice(_OPENERS)} The {product} {points[0]}, but {points[1]}. "
                    f"{rng.choice(_VERDICTS)}")
            writer.writerow([f"r{rng.getrandbits(32):08x}-{n}", product, rng.randint(1, 5), text])
    return path
