# Generated for the course's release: part of the tinygpt package the notebooks use.
"""Loss and perplexity of a GPT on documents, with padding excluded."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from tinygpt.model import GPT
from tinygpt.vocab import pad_batch


@torch.no_grad()
def document_losses(model: GPT, documents: Sequence[Sequence[int]], batch_size: int = 64) -> torch.Tensor:
    """Mean next-token loss of each document over its real (non-padding) targets, one value per document."""
    pad_id = model.config.pad_token
    if pad_id is None:
        raise ValueError("document_losses needs a model whose config sets pad_token.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    losses = []
    for start in range(0, len(documents), batch_size):
        inputs, targets = pad_batch(documents[start : start + batch_size], pad_id)
        inputs, targets = inputs.to(device), targets.to(device)
        logits, _ = model(inputs)
        token_loss = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        real = (targets != pad_id).to(token_loss.dtype)
        losses.append(((token_loss * real).sum(dim=1) / real.sum(dim=1)).cpu())
    model.train(was_training)
    return torch.cat(losses)


def perplexity(model: GPT, documents: Sequence[Sequence[int]], batch_size: int = 64) -> float:
    """The course's perplexity: the mean over documents of exp(the document's mean loss)."""
    return document_losses(model, documents, batch_size).exp().mean().item()
