"""§2.1 oracle for ``self_attention``: PyTorch's own multi-head attention with identity projections.

This is how the notebook's checks compare (its ``MHA_wrapper``), so it gives nothing away and the public
checks, which the students' checker ships, use it. Computed in float64 so that the oracle's own rounding
is far below the 1e-5 tolerance.
"""

import torch
import torch.nn.functional as F


def reference_self_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, causal: bool
) -> torch.Tensor:
    """Causal (or not) multi-head scaled dot-product attention, no output projection, in float64."""
    q, k, v = (t.double() for t in (q, k, v))
    _, n_tok, n_embd = q.shape
    eye = torch.eye(n_embd, dtype=torch.float64, device=q.device)
    mask = None
    if causal:
        mask = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool, device=q.device))
    out, _ = F.multi_head_attention_forward(
        q.transpose(0, 1),
        k.transpose(0, 1),
        v.transpose(0, 1),
        embed_dim_to_check=n_embd,
        num_heads=n_heads,
        in_proj_weight=eye.repeat(3, 1),
        in_proj_bias=None,
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.0,
        out_proj_weight=eye,
        out_proj_bias=None,
        training=False,
        need_weights=False,
        attn_mask=mask,
    )
    return out.transpose(0, 1)
