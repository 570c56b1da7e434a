"""§2.1 attention from scratch (A2S2): the helpers' formulas, PyTorch's multi-head attention as the
oracle of ``self_attention``, the small GPT of 2.1.14, the from-scratch rule and the known bugs."""
