"""Length-grouped batching: batches of similar length, so dynamic padding pads little."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Seeded batches of indices whose lengths are close.

    Each epoch the indices are shuffled with ``seed + epoch``, cut into mega-batches of
    ``mega_batches * batch_size`` indices, each sorted by length, cut into batches, and
    the batch order shuffled again. The order depends only on ``(seed, epoch)``, never on
    global RNG state, which is what makes a resumed run skip exactly the batches it saw.

    Args:
        lengths (`Sequence[int]`): token length of each example.
        batch_size (`int`): examples per batch (the last batch may be smaller).
        seed (`int`): base seed; the epoch is added to it.
        group_by_length (`bool`, defaults to `True`): with `False`, plain shuffled batches.
        mega_batches (`int`, defaults to `50`): how many batches' worth are sorted together.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        *,
        group_by_length: bool = True,
        mega_batches: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_by_length = group_by_length
        self.mega_batches = mega_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        if not self.group_by_length:
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        span = self.mega_batches * self.batch_size
        batches: list[list[int]] = []
        for start in range(0, len(order), span):
            mega = sorted(order[start : start + span], key=lambda i: -self.lengths[i])
            batches.extend(mega[i : i + self.batch_size] for i in range(0, len(mega), self.batch_size))
        # The longest batch goes first so that an out-of-memory error shows at step 1, not hours in.
        longest = max(range(len(batches)), key=lambda b: self.lengths[batches[b][0]])
        first = batches.pop(longest)
        rng.shuffle(batches)
        return [first, *batches]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def length_balanced_indices(
    lengths: Sequence[int],
    labels: Sequence[int],
    seed: int,
    *,
    bins: int = 10,
    max_repeat: int = 4,
) -> list[int]:
    """Row indices (some repeated, some dropped) whose two classes share one length distribution.

    The rows are cut into ``bins`` length quantiles; in each bin the rarer class is repeated
    (at most ``max_repeat`` times a row) and the commoner one subsampled until both have the
    same count, so that within every bin, and hence overall, length says nothing of the label.
    Seeded and order-independent of global RNG state.

    Args:
        lengths (`Sequence[int]`): a length per row (characters).
        labels (`Sequence[int]`): 0 (genuine) or 1 (fake) per row.
        seed (`int`): the sampling seed.
        bins (`int`, defaults to `10`): length quantiles.
        max_repeat (`int`, defaults to `4`): the most copies of one row; where the rarer class is
            scarcer than that, the commoner one is cut down to ``max_repeat`` times its count.

    Returns:
        `list[int]`: indices into the rows, sorted.
    """
    if len(lengths) != len(labels):
        raise ValueError(f"lengths has {len(lengths)} rows but labels has {len(labels)}; give one of each per row")
    if bins < 1 or max_repeat < 1:
        raise ValueError(f"bins and max_repeat must be >= 1, got bins={bins}, max_repeat={max_repeat}")
    lengths_a = np.asarray(lengths, dtype=float)
    labels_a = np.asarray(labels)
    rng = np.random.default_rng(seed)
    edges = np.unique(np.quantile(lengths_a, np.linspace(0, 1, bins + 1)[1:-1])) if len(lengths_a) else []
    bin_of = np.searchsorted(edges, lengths_a, side="right")
    chosen: list[np.ndarray] = []
    for b in np.unique(bin_of):
        members = [np.flatnonzero((bin_of == b) & (labels_a == c)) for c in (0, 1)]
        rare, common = sorted(members, key=len)
        if len(rare) == 0:
            continue  # a bin with one class only teaches length; it is left out
        target = min(len(common), max_repeat * len(rare))
        common_pick = rng.choice(common, size=target, replace=False)
        copies, extra = divmod(target, len(rare))
        rare_pick = np.concatenate([np.tile(rare, copies), rng.choice(rare, size=extra, replace=False)])
        chosen += [common_pick, rare_pick]
    return sorted(np.concatenate(chosen).tolist()) if chosen else []
