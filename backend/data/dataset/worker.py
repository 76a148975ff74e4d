"""The data factory's shard worker: planned specs -> signed, measured, described samples -> shard files.

One ``ShardWorker`` per process holds the lexicon, the body model, the synthesizer, HMS,
the variant assigner and the translator; ``run(batch)`` synthesizes a batch of shards as
one synthesis batch and writes the shards marked to be written. Whichever engine runs it
(``backend.engine``), the same batch gives the same shards. numpy + torch; never bpy.
"""
from __future__ import annotations

import numpy as np

from ..lexicon import read_lexicon
from .assign import MotionTextScorer, make_assigner
from .format import PARAPHRASE_SPLITS, Sample, SampleRecord, write_shard
from .plan import BuildConfig, ShardJob, Spec, text_split


class ShardWorker:
    """Synthesizes shards; one per process (it holds the body, the synthesizer and HMS)."""

    def __init__(self, lexicon_path: str, cfg: BuildConfig, scorer: MotionTextScorer | None = None):
        from ...body.model import Body
        from ..hms import HMS
        from ..synth import Synthesizer
        from ..text import TemplateTranslator

        self.lex = read_lexicon(lexicon_path)
        self.by_id = self.lex.by_id()
        self.cfg = cfg
        body = Body.load()
        self.synth = Synthesizer(body)
        self.hms = HMS(body)
        if scorer is None and cfg.assign == "retrieval" and cfg.retrieval_run:
            from ...models.thmr import THMRScorer

            scorer = THMRScorer.load(cfg.retrieval_run)
        self.assigner = make_assigner(cfg.assign, scorer)
        self._dictionary: dict[str, str] = {}
        self.translator = TemplateTranslator(text_split(cfg))

    def describe_entry(self, entry_id: str) -> str:
        """A dictionary variant's own description (canonical signer), for retrieval assignment."""
        if entry_id not in self._dictionary:
            from ..signing import sign_entry
            from ..synth import Signer

            signed = sign_entry(self.synth, self.hms, self.by_id[entry_id], Signer(seed=0))
            self._dictionary[entry_id] = signed.text(np.random.default_rng(0), self.translator)
        return self._dictionary[entry_id]

    def samples(self, specs: list[Spec]) -> list[Sample]:
        """One sample per spec; the motions are synthesized as one batch."""
        from ..signing import sign_entries
        from ..synth import Signer

        items = [(self.by_id[s.entry], Signer.sample(s.signer_seed, left_handed=s.left_handed)) for s in specs]
        out = []
        for spec, signed in zip(specs, sign_entries(self.synth, self.hms, items)):
            features = signed.features()
            assigned = self.assigner.assign(spec, features, self.describe_entry)
            n = self.cfg.texts_per_sample
            texts = signed.texts(np.random.default_rng(spec.assign_seed), n, self.translator,
                                 entry=self.by_id[assigned], word=spec.word,
                                 paraphrase=n if spec.split in PARAPHRASE_SPLITS else 0)
            styles = texts.pop("styles")
            motion, signer = signed.motion, signed.signer
            record = SampleRecord(
                **spec.as_json(), assigned=assigned, assignment=self.assigner.mode, texts=texts, text_styles=styles,
                hms=signed.cues.as_dict(), frames=motion.num_frames, sign_frames=list(signed.truth.sign_frames),
                dominant=signed.dominant,
                signer={"tempo": signer.tempo, "amplitude": signer.amplitude,
                        "betas": [round(float(b), 4) for b in signer.betas]},
                parts=[{"sign_frames": list(w), "hms": c.as_dict()}
                       for w, c in zip(signed.truth.parts, signed.part_cues)])
            out.append(Sample(record, features, motion.poses, motion.betas))
        return out

    def run(self, batch: list[ShardJob]) -> int:
        """Make a batch of shards: all of their samples are synthesized as one batch, and
        the shards marked are written. Returns the number of samples written."""
        made = iter(self.samples([spec for job in batch for spec in job.specs]))
        written = 0
        for job in batch:
            samples = [next(made) for _ in job.specs]
            if job.write:
                written += write_shard(samples, job.files)
        return written
