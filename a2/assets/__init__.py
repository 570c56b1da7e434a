"""Offline stand-ins for roberta-base and gpt3mix/sst2, built deterministically and cached."""

from a2.assets.offline import OfflineAssets, offline_assets

__all__ = ["OfflineAssets", "offline_assets"]
