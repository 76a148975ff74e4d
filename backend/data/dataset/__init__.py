"""The data factory's dataset: lexicon -> sharded motions, texts, splits and stats.

One module per concept:

- ``format``: the folder on disk (shards, typed records, statistics, ``Dataset`` to read
  it back), shared with ``signforge reconstruct-batch``;
- ``plan``: ``BuildConfig`` and the plan, every sample's ``Spec`` from the seed alone, and
  the shards' synthesis batches;
- ``assign``: variant assignment (random, or retrieval with a ``MotionTextScorer``);
- ``worker``: ``ShardWorker``, which signs, measures and describes a batch of shards
  (``backend.data.signing``) and writes them;
- ``builder``: ``build(config)``, the shards run on an engine (``backend.engine``: local
  processes or Ray), then statistics and the manifest.

Two clean builds with the same seed give the same plan, texts and cues, and features equal
to float rounding (two clean builds were measured about 1e-10 apart; bytes are not
promised). A quarter of the signers are left-handed (mirrored, and their texts name the
left hand). Test records also carry ``paraphrase`` texts in the style family and with the
synonyms that no training text uses (``dataset.json`` names them; the seed picks them).
numpy + torch; never bpy.
"""
from __future__ import annotations

from .assign import MotionTextScorer, RandomAssigner, RetrievalAssigner, make_assigner
from .builder import build
from .format import (FORMAT_VERSION, LICENCE_NOTE, PARAPHRASE_SPLITS, SPLITS, Dataset, DatasetError, Record, Sample,
                     SampleRecord, ShardFiles, motion_sums, read_records, write_shard, write_stats)
from .plan import (MAX_SHARDS_PER_BATCH, BuildConfig, ShardJob, Spec, keyed_rng, plan, shard_batches, shard_jobs,
                   split_words, synthesizable, text_split)
from .worker import ShardWorker

__all__ = [
    "FORMAT_VERSION", "LICENCE_NOTE", "MAX_SHARDS_PER_BATCH", "PARAPHRASE_SPLITS", "SPLITS", "BuildConfig", "Dataset",
    "DatasetError", "MotionTextScorer", "RandomAssigner", "Record", "RetrievalAssigner", "Sample", "SampleRecord", "ShardFiles",
    "ShardJob", "ShardWorker", "Spec", "build", "keyed_rng", "make_assigner", "motion_sums", "plan", "read_records",
    "shard_batches", "shard_jobs", "split_words", "synthesizable", "text_split", "write_shard", "write_stats",
]
