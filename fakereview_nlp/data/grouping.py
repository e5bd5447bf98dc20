"""Union-find: rows that share any key (a group, an exact text, a text prefix) form one group.

Used wherever duplicates must not straddle a split: :func:`fakereview_nlp.data.reviews.group_keys`
(train/validation splits and CV folds) and the corpus importers (product groups).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class UnionFind(Generic[K]):
    """Disjoint sets over hashable items, created on first sight, with path halving.

    Example::

        >>> sets = UnionFind()
        >>> _ = sets.union("b", "a")  # b's set now hangs under a's root
        >>> sets.find("b")
        'a'
    """

    def __init__(self) -> None:
        self.parent: dict[K, K] = {}

    def find(self, item: K) -> K:
        """The root of ``item``'s set (``item`` itself when unseen)."""
        parent = self.parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, child: K, parent: K) -> K:
        """Merge the two sets, hanging ``child``'s root under ``parent``'s root; returns the root.

        The direction is the caller's: it decides which root names the merged set.
        """
        a, b = self.find(child), self.find(parent)
        if a != b:
            self.parent[a] = b
        return b


__all__ = ["UnionFind"]
