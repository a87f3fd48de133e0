import pytest
import torch
from torch import nn

from kws.models import build_model
from kws.models.course import course_tables
from kws.params import count_parameters, format_count, parameter_table


def test_format_count_matches_the_course_reports():
    assert format_count(154_880) == "154.88k"
    assert format_count(2_152_287) == "2.15M"
    assert format_count(67_536) == "67.54k"
    assert format_count(999) == "999"
    assert format_count(0) == "0"
    assert format_count(1_000) == "1.00k"
    assert format_count(999_999) == "1.00M"  # not "1000.00k"
    assert format_count(7_000_000_000) == "7.00B"


def test_count_parameters_counts_shared_and_frozen_parameters():
    shared = nn.Linear(3, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    assert count_parameters(model) == 16 + 10  # the shared layer once
    model[3].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 16 + 2


def test_parameter_table_rows_shapes_and_totals():
    torch.manual_seed(0)
    model = build_model("conv_stem_transformer")
    model.head.weight.requires_grad_(False)
    table = parameter_table(model, torch.zeros(2, 16000), depth=2)
    assert (table.total, table.trainable) == (2_147_404, 2_147_404 - 256 * 12)
    assert table.non_trainable == 256 * 12
    rows = {row["name"]: row for row in table.as_dicts()}
    assert rows["stem"]["output_shape"] == "[2, 416, 256]"  # 16 x 26 position tokens
    assert rows["encoder"]["output_shape"] == "[2, 417, 256]"  # + CLS
    assert rows["encoder"]["params"] == 4 * 527_104
    assert rows["cls_token"]["type"] == "Parameter" and rows["cls_token"]["params"] == 256
    assert rows["head"]["trainable"] == 12
    assert table.rows[0].type == "ConvStemTransformer" and table.rows[0].output_shape == "[2, 12]"
    assert max(row.depth for row in table.rows) == 2
    text = str(table)
    assert "Total params: 2,147,404 (2.15M)" in text
    assert "Non-trainable params: 3,072" in text
    assert "stem: ConvSubsampling" in text
    assert model.training  # the table's forward pass leaves the training mode as it was


def test_parameter_table_without_example_and_depth_limits():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    shallow = parameter_table(model, depth=0)
    assert [row.type for row in shallow.rows] == ["Sequential"]
    deep = parameter_table(model, depth=5)
    assert [row.name for row in deep.rows] == ["", "0", "1", "0", "1"]
    assert [row.params for row in deep.rows] == [26, 16, 10, 0, 10]
    assert all(row.output_shape == "" for row in deep.rows)
    assert "--" in str(deep)  # blocks without parameters
    with pytest.raises(ValueError, match="depth"):
        parameter_table(model, depth=-1)


def test_parameter_table_takes_several_inputs():
    model = build_model("hw4_sample")
    table = parameter_table(model, (torch.zeros(2, 7, 40), torch.tensor([7, 3])), depth=1)
    rows = {row.name: row for row in table.rows}
    assert rows["encoder_layer"].output_shape == "[2, 7, 80]"
    assert rows["pooling"].output_shape == "[2, 80]"


def test_course_tables_print_the_course_figures():
    text = course_tables(depth=1)
    for figure in ["527,104", "2,147,404", "2,152,287", "1,507,149", "125,896"]:
        assert figure in text
    assert "The parameter size of encoder block is 67.54k" in text
