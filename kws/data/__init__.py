from kws.data.audio import load_wav, pad_or_trim
from kws.data.augment import WaveAugment
from kws.data.batches import ClipBatches, FeatureBatches
from kws.data.cache import (
    ClipCache,
    FeatureCache,
    NoiseBank,
    add_silence,
    cache_clips,
    cache_features,
    cache_noise,
)
from kws.data.download import ChecksumError, download, safe_extract
from kws.data.speaker_features import (
    SpeakerFeatures,
    build_speaker_features,
    collate_features,
    load_features,
    write_predictions_csv,
)
from kws.data.speaker_format import read_test_labels
from kws.data.speech_commands import (
    Clip,
    EmptySplitError,
    SpeechCommands,
    download_speech_commands,
    load_background_noise,
    load_item,
    which_set,
)
from kws.data.synthetic import make_speaker_features, make_speech_commands
from kws.data.tts import Voice, synthesize
