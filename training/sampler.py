"""Length-grouped batching: batches of similar length, so dynamic padding pads little."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

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
