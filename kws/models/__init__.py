from kws.models.attention import MultiHeadSelfAttention
from kws.models.classifiers import PRESETS, build_model, from_config, model_config
from kws.models.conformer import Conformer, ConformerBlock, load_torchaudio_state_dict
from kws.models.course import print_course_tables
from kws.models.masks import lengths_to_mask
from kws.models.transformer import TransformerEncoder, TransformerEncoderLayer
