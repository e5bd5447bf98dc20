"""A source adversary: a head that guesses each training review's source through a gradient reversal.

With ``training.source_adversary: W`` > 0 (a multi-source config), a linear head reads the features
the classifier reads (the input of the model's ``classifier`` layer) and is trained to tell the
sources apart, while the reversed gradient, scaled by ``W``, pushes the encoder the other way:
features that do not say which corpus a review came from (Ganin & Lempitsky 2015, domain-adversarial
training). The intent is a fake/genuine signal that holds across generators, not one per corpus
(GPT-2's fakes are fluent-poor, GPT-4's fluent-rich). Only training uses it: the saved model is the
ordinary classifier, and this head is dropped with the run.
"""

from __future__ import annotations

from typing import Any

import torch


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def reverse_gradient(x: torch.Tensor, weight: float) -> torch.Tensor:
    """Identity forward; the gradient multiplied by ``-weight`` backward."""
    return _ReverseGradient.apply(x, weight)


class SourceAdversary(torch.nn.Module):
    """The source head and the hook that hands it the classifier's input features.

    :meth:`for_model` hooks it to the unwrapped model (before ``accelerator.prepare``); after each
    forward of the model, calling it with the batch's source ids gives that batch's source loss,
    its gradient reversed into the encoder (a forward, so a DDP-wrapped adversary syncs its head).
    """

    def __init__(self, hidden_size: int, n_sources: int, weight: float) -> None:
        super().__init__()
        if n_sources < 2:
            raise ValueError(f"a source adversary needs at least 2 sources, got {n_sources}")
        self.head = torch.nn.Linear(hidden_size, n_sources)
        self.weight = weight
        self._features: torch.Tensor | None = None

    @classmethod
    def for_model(cls, model: torch.nn.Module, n_sources: int, weight: float) -> SourceAdversary:
        classifier = getattr(model, "classifier", None)
        if not isinstance(classifier, torch.nn.Linear):
            raise ValueError(
                f"training.source_adversary needs a model whose 'classifier' is a Linear layer; "
                f"{type(model).__name__} has {type(classifier).__name__}: set training.source_adversary=0"
            )
        adversary = cls(classifier.in_features, n_sources, weight)
        classifier.register_forward_hook(adversary._keep_input)
        return adversary

    def _keep_input(self, module: torch.nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self._features = args[0]

    def forward(self, source_ids: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the source guesses of the last forward's features (gradient reversed into them)."""
        if self._features is None:
            raise RuntimeError("SourceAdversary called before a forward pass of the model it is attached to")
        features = reverse_gradient(self._features, self.weight)
        self._features = None
        logits = self.head(features)
        return torch.nn.functional.cross_entropy(logits.float(), source_ids)
