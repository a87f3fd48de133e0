from kws.models.classifiers import PRESETS, build_model, from_config, model_config
from kws.models.course import print_course_tables
