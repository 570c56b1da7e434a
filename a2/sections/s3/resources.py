"""The §3 resources of a profile: a local model folder (tokenizer included) and the three data splits.

``offline`` uses the assets built by ``a2.assets``. ``full`` uses ``roberta-base`` and
``gpt3mix/sst2`` from the local Hugging Face cache that the Gradescope image fills when it is built;
nothing is downloaded while grading. Both go through the same ``transformers`` and ``datasets`` calls.

Whatever goes wrong while loading becomes one ``ProfileResourcesMissing`` whose message tells the
instructor what is missing and how to fix it; it is raised again, unchanged, by every check that
asks, instead of one traceback per test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from a2.records import A2Profile, a2_profile
from grader.errors import StaffSetupFailure
from grader.table import Profile

if TYPE_CHECKING:
    from grader.section_resources import AddFolder

OFFLINE = "offline"
SPLITS = ("train", "validation", "test")
# The Hub's own Parquet export of a data set. gpt3mix/sst2 is a script data set (sst2.py and TSV files
# on its main branch), which `datasets` 4 and later refuse to run; its export holds the same splits.
HUB_DATASET_REVISION = "refs/convert/parquet"

# Read when transformers/datasets are first imported: set them before anything imports those.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


class ProfileResourcesMissing(StaffSetupFailure):
    """The grader's own model or data for §3 could not be loaded: a setup problem, not the student's."""

    def __init__(self, profile: str, what: str, reason: str, fix: str) -> None:
        super().__init__(
            f"The grader could not load {what} for the '{profile}' profile, so this test could not run. "
            f"This is a problem with the grader's setup, not with your code. (For the course staff: "
            f"{reason}. {fix})"
        )
        self.for_staff = f"could not load {what} for the '{profile}' profile: {reason}. {fix}"


@dataclass(frozen=True)
class Sst2Resources:
    """A profile's model folder (read by the sandbox too) and its splits as lists of {"text", "label"}."""

    profile: str
    model_dir: str
    splits: dict[str, list[dict]]

    def tokenizer(self):
        from a2.sections.s3.batches import load_tokenizer

        return load_tokenizer(self.model_dir)


def model_folder(profile: A2Profile) -> str:
    """The profile's model folder (tokenizer included); raises ProfileResourcesMissing."""
    name = profile.model
    if name == OFFLINE:
        from a2.assets import offline_assets

        return str(offline_assets().model_dir)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True)
    except Exception as error:  # noqa: BLE001 - any failure here means the same thing: not cached
        raise ProfileResourcesMissing(
            profile.name,
            f"the model '{name}'",
            f"it is not in the Hugging Face cache at {_hub_cache()} ({type(error).__name__})",
            f"Fill the cache when the image is built: python -m grader prepare {profile.name}",
        ) from None


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _offline_splits() -> dict[str, list[dict]]:
    """The generated data set, read from the JSON lines it was written as. It is our own file, so the
    grader reads it without the datasets library, whose import alone costs a second of every grading
    run; the student's notebook still loads its copy with ``load_dataset``."""
    from a2.assets.offline import offline_assets

    assets = offline_assets()
    return {
        split: [_example(json.loads(line)) for line in assets.split_file(split).read_text().splitlines()]
        for split in SPLITS
    }


def _example(record: dict) -> dict:
    return {"text": str(record["text"]), "label": int(record["label"])}


def _load_splits(profile: A2Profile) -> dict[str, list[dict]]:
    name = profile.dataset
    if name == OFFLINE:
        return _offline_splits()
    from datasets import load_dataset

    try:
        loaded = load_dataset(name, revision=HUB_DATASET_REVISION)
        splits = {split: loaded[split][:] for split in SPLITS}
    except Exception as error:  # noqa: BLE001 - not cached, or cached without the splits we need
        from datasets import config

        raise ProfileResourcesMissing(
            profile.name,
            f"the data set '{name}'",
            f"loading it from {config.HF_DATASETS_CACHE} failed ({type(error).__name__}: {error})",
            f"Fill the cache when the image is built: python -m grader prepare {profile.name}",
        ) from None
    return {
        split: [_example({"text": t, "label": y}) for t, y in zip(data["text"], data["label"], strict=True)]
        for split, data in splits.items()
    }


@lru_cache(maxsize=2)
def _load(profile: A2Profile) -> Sst2Resources | ProfileResourcesMissing:
    try:
        model_dir = model_folder(profile)
        from a2.sections.s3.batches import load_tokenizer

        try:
            load_tokenizer(model_dir)
        except OSError as error:
            raise ProfileResourcesMissing(
                profile.name, "the tokenizer", str(error), "Rebuild the cache the profile reads."
            ) from None
        return Sst2Resources(profile.name, model_dir, _load_splits(profile))
    except ProfileResourcesMissing as missing:
        return missing


def load_resources(profile: A2Profile) -> Sst2Resources:
    """The profile's resources, loaded once per grading run; raises ProfileResourcesMissing."""
    loaded = _load(profile)
    if isinstance(loaded, ProfileResourcesMissing):
        raise loaded
    return loaded


#: The names a notebook loads the model and the data set by: in the student's process they lead to
#: the profile's own (grader/sandbox/child.py links them), whatever the profile.
MODEL_NAMES = ("roberta-base", "FacebookAI/roberta-base")
DATA_NAMES = ("gpt3mix/sst2",)


def student_data_files(resources: Sst2Resources, heldout: str) -> dict[str, str]:
    """The data set as the notebook's `initialize_datasets` reads it in the student's process, one
    JSON-lines file per split. The held-out split never reaches student code: its file holds the
    validation split instead, so a notebook that loads every split still runs."""
    shown = {split: "validation" if split == heldout else split for split in SPLITS}
    return {
        f"{split}.jsonl": "".join(json.dumps(example) + "\n" for example in resources.splits[source])
        for split, source in shown.items()
    }


def stand_in_environment(model_dir: str, data_dir: str, variable: str) -> dict[str, str]:
    """The student process's environment that points the notebook at the model and data: the
    variables the notebook reads (A2S3_MODEL, A2S3_DATASET) and the names to link (in `variable`)."""
    links = {name: model_dir for name in MODEL_NAMES} | {name: data_dir for name in DATA_NAMES}
    return {"A2S3_MODEL": model_dir, "A2S3_DATASET": data_dir, variable: json.dumps(links)}


class Sst2Profiles:
    """§3's resources as the engine asks for them (grader.section_resources.SectionResources)."""

    def missing(self, profile: Profile) -> str | None:
        try:
            load_resources(a2_profile(profile))
        except ProfileResourcesMissing as missing:
            return missing.for_staff
        return None

    def model_folder(self, profile: Profile) -> Path:
        return Path(model_folder(a2_profile(profile))).resolve()

    def stand_ins(self, profile: Profile, add_folder: AddFolder, links_variable: str) -> dict[str, str]:
        own = a2_profile(profile)
        resources = load_resources(own)
        data = add_folder("stand-in-data", student_data_files(resources, own.heldout_split))
        return stand_in_environment(resources.model_dir, str(data), links_variable)

    def graded_on(self, profile: Profile) -> str:
        if self.is_stand_in(profile):
            return "§3's finetuning was checked on a small stand-in model, not on SST-2"
        return f"§3 finetuned {a2_profile(profile).model}"

    def is_stand_in(self, profile: Profile) -> bool:
        return a2_profile(profile).model == OFFLINE


#: The table's ``[sections.3] resources``.
SST2 = Sst2Profiles()
