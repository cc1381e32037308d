"""Stock levels as the recommender sees them, refreshed from the warehouse feed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SKU_PATTERN = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")


class UnknownSkuError(KeyError):
    """Raised when a SKU is not in the inventory."""


@dataclass
class Inventory:
    levels: dict[str, int] = field(default_factory=dict)
    low_stock_threshold: int = 5

    def receive(self, sku: str, quantity: int) -> int:
        """Adds delivered stock and returns the new level."""
        if not SKU_PATTERN.match(sku):
            raise ValueError(f"not a SKU: {sku!r}")
        if quantity <= 0:
            raise ValueError(f"quantity must be positive, got {quantity}")
        self.levels[sku] = self.levels.get(sku, 0) + quantity
        return self.levels[sku]

    def reserve(self, sku: str, quantity: int) -> int:
        """Takes stock for an order; refuses to go below zero. Returns what is left."""
        if sku not in self.levels:
            raise UnknownSkuError(sku)
        if quantity > self.levels[sku]:
            raise ValueError(
                f"only {self.levels[sku]} of {sku} left, cannot reserve {quantity}"
            )
        self.levels[sku] -= quantity
        return self.levels[sku]

    def out_of_stock(self) -> list[str]:
        """SKUs with nothing left, sorted."""
        return sorted(s for s, n in self.levels.items() if n == 0)

    def low_stock(self) -> list[str]:
        """SKUs at or below the threshold but not empty, sorted."""
        return sorted(
            s for s, n in self.levels.items() if 0 < n <= self.low_stock_threshold
        )
