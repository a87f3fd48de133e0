"""Small datasets written by hand for the fast-path tests, in the on-disk layouts of
docs/reference/data.md.

A Speech Commands v0.02 folder with a few clips per word (some shorter than one second), two
background-noise recordings and official split lists; and an HW4 speaker-features folder whose
JSON files are written here from the format's description, not by the kit's own writer.
"""

import json
from pathlib import Path

import numpy as np
import soundfile
import torch

WORDS = ("yes", "no", "up", "cat", "learn")  # "learn" makes it v0.02
SPEAKERS = ("0a1b2c3d", "1f2e3d4c", "9e8d7c6b")
N_MELS = 5  # distinct from every other size in the tests


def make_speech_commands(parent: Path, seed: int = 0) -> Path:
    """Write ``parent/speech_commands_v0.02`` and return it: 5 words x 3 speakers x 2 takes."""
    rng = np.random.default_rng(seed)
    root = parent / "speech_commands_v0.02"
    names = []
    for w, word in enumerate(WORDS):
        (root / word).mkdir(parents=True)
        for speaker in SPEAKERS:
            for take in range(2):
                length = 16000 if take == 0 else 11000 + 1000 * w  # takes 1 are short
                samples = rng.integers(-20000, 20000, size=length, dtype=np.int16)
                name = f"{word}/{speaker}_nohash_{take}.wav"
                soundfile.write(root / name, samples, 16000, subtype="PCM_16")
                names.append(name)
    noise = root / "_background_noise_"
    noise.mkdir()
    for name, seconds in (("pink_noise", 3), ("white_noise", 2)):
        samples = rng.integers(-30000, 30000, size=16000 * seconds, dtype=np.int16)
        soundfile.write(noise / f"{name}.wav", samples, 16000, subtype="PCM_16")
    # speaker 1 is the validation speaker, speaker 2 the testing speaker
    (root / "validation_list.txt").write_text("".join(f"{n}\n" for n in names if SPEAKERS[1] in n))
    (root / "testing_list.txt").write_text("".join(f"{n}\n" for n in names if SPEAKERS[2] in n))
    return root


def make_speaker_features(parent: Path, seed: int = 0) -> Path:
    """Write an HW4 folder ``parent/speaker_features`` (3 speakers, 9 utterances, 2 test ones).

    Utterance lengths run from 3 to 40 frames, so that crops of 8 frames cover both short
    (padded) and long (cropped) utterances.
    """
    generator = torch.Generator().manual_seed(seed)
    root = parent / "speaker_features"
    root.mkdir(parents=True)
    speakers = {"id10001": [3, 40, 8], "id10007": [17, 8, 5], "id10020": [25, 9, 12]}
    metadata = {"n_mels": N_MELS, "speakers": {}}
    k = 0
    for speaker, lengths in speakers.items():
        metadata["speakers"][speaker] = []
        for mel_len in lengths:
            name = f"uttr-{k:05d}.pt"
            torch.save(torch.randn(mel_len, N_MELS, generator=generator), root / name)
            metadata["speakers"][speaker].append({"feature_path": name, "mel_len": mel_len})
            k += 1
    test = []
    for mel_len in (11, 4):
        name = f"uttr-{k:05d}.pt"
        torch.save(torch.randn(mel_len, N_MELS, generator=generator), root / name)
        test.append({"feature_path": name, "mel_len": mel_len})
        k += 1
    # ids deliberately not in metadata order
    speaker2id = {"id10001": 2, "id10007": 0, "id10020": 1}
    mapping = {"speaker2id": speaker2id, "id2speaker": {str(i): s for s, i in speaker2id.items()}}
    (root / "metadata.json").write_text(json.dumps(metadata))
    (root / "mapping.json").write_text(json.dumps(mapping))
    (root / "testdata.json").write_text(json.dumps({"n_mels": N_MELS, "utterances": test}))
    return root
