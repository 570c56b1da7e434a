# Generated for the course's release: part of the tinygpt package the notebooks use.
"""A small decoder-only transformer (GPT) whose attention is supplied by its configuration."""

import torch
import torch.nn.functional as F
from torch import nn

from tinygpt.config import GPTConfig


class PluggableSelfAttention(nn.Module):
    """Self-attention built from ``config.attn_init_fn`` and ``config.attn_fn``, plus an output projection.

    The supplied attention has no output projection (it matches ``multi_head_attention_forward``
    with an identity one), so this module adds the usual learned projection after it.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        projections = config.attn_init_fn(config.n_embd)
        if not isinstance(projections, tuple | list) or len(projections) != 3:
            raise TypeError("attn_init_fn(n_embd) must return three modules (W_Q, W_K, W_V).")
        self.w_q, self.w_k, self.w_v = projections
        self.attn_fn = config.attn_fn
        self.n_head = config.n_head
        self.out_proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        y = self.attn_fn(self.w_q(x), self.w_k(x), self.w_v(x), n_heads=self.n_head, causal=True)
        if y.shape != x.shape:
            raise ValueError(f"attn_fn returned shape {tuple(y.shape)}; expected {tuple(x.shape)}.")
        y = self.dropout(self.out_proj(y))
        return y if keep is None else y * keep


class Block(nn.Module):
    """One pre-norm transformer block: attention then a two-layer MLP, each with a residual."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.n_embd)
        self.attn = PluggableSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x), keep)
        return x + self.mlp(self.ln_mlp(x))


class GPT(nn.Module):
    """Token and learned position embeddings, ``n_layer`` blocks, a final norm and a language-model head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(logits, loss)``; ``loss`` is None without targets and ignores padded targets."""
        n_tok = idx.shape[1]
        if n_tok > self.config.block_size:
            raise ValueError(f"{n_tok} tokens exceed block_size {self.config.block_size}; truncate them.")
        positions = torch.arange(n_tok, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        pad = self.config.pad_token
        keep = None if pad is None else (idx != pad).unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, keep)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            ignore_index=-100 if pad is None else pad,
        )
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0) -> torch.Tensor:
        """Sample ``max_new_tokens`` continuations of ``idx`` (B, n_tok), one token at a time."""
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size :])
            probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, num_samples=1)], dim=1)
        return idx
