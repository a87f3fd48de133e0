"""The Speech Commands words, label sets and clip size: names only, no torch (the grader's own
process reads the 12-class test set with them; `kws.data.speech_commands` re-exports them)."""

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000  # every clip is padded or cut to one second

WORDS_V1 = (
    "yes no up down left right on off stop go "
    "zero one two three four five six seven eight nine "
    "bed bird cat dog happy house marvin sheila tree wow"
).split()
WORDS_V2_ONLY = "backward forward follow learn visual".split()
WORDS_V2 = WORDS_V1 + WORDS_V2_ONLY
KNOWN_WORDS_12 = "yes no up down left right on off stop go".split()
SILENCE, UNKNOWN = "_silence_", "_unknown_"
BACKGROUND_NOISE = "_background_noise_"
LABEL_SETS = {
    "35": sorted(WORDS_V2),
    "30": sorted(WORDS_V1),
    "12": [SILENCE, UNKNOWN, *KNOWN_WORDS_12],
}
