"""The sign data factory: lexicon -> synthesized motion -> HandMotionScript cues -> text -> datasets."""
