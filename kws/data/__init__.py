from kws.data.audio import load_wav, pad_or_trim
from kws.data.augment import WaveAugment
from kws.data.download import ChecksumError, download, safe_extract
from kws.data.speech_commands import (
    Clip,
    SpeechCommands,
    download_speech_commands,
    load_background_noise,
    load_item,
    which_set,
)
