"""A2's own keys of its table: its tolerances and what a profile says about §3's model and training.

The engine reads ``[tolerances]`` and ``[profiles.NAME]`` through these records because the table
names them (``[assignment] tolerances`` and ``profile``); each field carries its description, its
default and its rules, as the engine's do, and docs/table.md lists them with the engine's keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.table import Profile, Tolerances, setting


@dataclass(frozen=True, kw_only=True)
class A2Tolerances(Tolerances):
    """``[tolerances]``: how far a student's result may be from the grader's."""

    query_error: float = setting("§1: max |attention(q) - target|", positive=True)
    key_norm: float = setting("§1.4.2: largest | ||k2|| - 1 |", positive=True)
    attention: float = setting("§2.1: max abs difference in float32", positive=True)
    gpt_loss_drop: float = setting(
        "§2.1.14: least drop of the small GPT's held-out loss (nats) in the driver's steps", positive=True
    )
    gpt_padding_leak: float = setting(
        "§2.1.14: largest change of a token's logits when padding is appended after it", positive=True
    )


@dataclass(frozen=True, kw_only=True)
class A2Profile(Profile):
    """``[profiles.NAME]``: where §3's model and data come from and how the threshold run trains."""

    model: str = setting("'offline' (generated tiny RoBERTa) or a Hugging Face model name", default="offline")
    dataset: str = setting(
        "'offline' (generated SST-2-shaped data) or a Hugging Face data set", default="offline"
    )
    heldout_split: str = setting("the split whose accuracy 3.5.1 counts", default="test")
    epochs: int = setting("epochs of the threshold run", positive=True)
    batch_size: int = setting("batch size of the threshold run", positive=True)
    learning_rate: float = setting("AdamW learning rate of the threshold run", positive=True)
    adam_eps: float = setting("AdamW eps of the threshold run", positive=True)
    seed: int = setting("seed of the threshold run")
    threshold: float = setting("held-out accuracy 3.5.1 requires", positive=True)


def a2_profile(profile: Profile) -> A2Profile:
    """`profile` as A2's record: every profile of A2's table is one (its `[assignment] profile`)."""
    if not isinstance(profile, A2Profile):
        raise TypeError(f"profile {profile.name!r} was not read with A2's table (a2/assignment.toml)")
    return profile
