"""Product recommendations shown under the cart ("customers also bought")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Order:
    order_id: str
    skus: tuple[str, ...]


def co_purchases(orders: Iterable[Order], sku: str) -> Counter[str]:
    """Counts how often each other SKU appears in an order together with ``sku``."""
    counts: Counter[str] = Counter()
    for order in orders:
        unique = set(order.skus)
        if sku in unique:
            counts.update(s for s in unique if s != sku)
    return counts


def recommend(
    orders: Sequence[Order],
    cart_skus: Sequence[str],
    limit: int = 3,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Returns up to ``limit`` SKUs most often bought with the cart's items.

    Ties are broken by SKU so results are stable. Items already in the cart and
    ``exclude`` (for example out-of-stock SKUs) are never recommended.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    skip = set(cart_skus) | set(exclude)
    total: Counter[str] = Counter()
    for sku in set(cart_skus):
        total.update(co_purchases(orders, sku))
    ranked = sorted(
        (s for s in total if s not in skip), key=lambda s: (-total[s], s)
    )
    return ranked[:limit]
