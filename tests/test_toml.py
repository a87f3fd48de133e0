"""`kws.spec.toml`: the kit's one reader of the TOML files people write (a spec, a course file).
What an author relies on: a mistake names the file and its line, a misspelled name the valid one
meant, wherever the key is written (a [table], a dotted key, an inline table)."""

from pathlib import Path

import pytest

from kws.grading.season.course import CourseError, read_course
from kws.spec import SpecError, load
from kws.spec.toml import line_of, read_toml, unknown

SPEC = """name = "draft"

[tasks.task1]
class = "Model"
rules = { layer_class = "Block", own_classes = ["Block"] }

[tasks.task2.rules]
layer_class = "Other"

[late]
cap = 0.5
"""


def test_a_key_is_found_on_its_line_however_it_is_written():
    assert line_of(SPEC, "tasks", "task1") == 3
    assert line_of(SPEC, "tasks", "task1", "class") == 4
    assert line_of(SPEC, "tasks", "task1", "rules", "layer_class") == 5  # in an inline table
    assert line_of(SPEC, "tasks", "task2", "rules", "layer_class") == 8  # not task1's, above
    assert line_of(SPEC, "late", "cap") == 11
    assert line_of(SPEC, "late", "per_day") is None


def test_a_misspelled_name_is_answered_with_the_one_meant():
    said = unknown("per_dya", ("per_day", "cap", "count"), "a key of [late]")
    assert (
        said
        == "'per_dya' is not a key of [late]; did you mean per_day? (valid: per_day, cap, count)"
    )
    assert "did you mean" not in unknown("zzz", ("per_day", "cap"), "a key")


def test_a_spec_and_a_course_file_say_the_line_of_their_toml_mistake(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "draft"\ntitle = "unfinished\n')
    with pytest.raises(SpecError, match=rf"^{spec}, line 2: not valid TOML"):
        load(spec)
    course = tmp_path / "course.toml"
    course.write_text('timezone = "UTC"\n[due]\nkeyword_spotting = “2026-10-02 23:59”\n')
    with pytest.raises(CourseError, match=rf"^{course}, line 3: not valid TOML .*straight ones"):
        read_course(course, ["keyword_spotting"])


def test_a_course_file_s_unknown_key_is_named_with_its_line_and_the_key_meant(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text('timezone = "UTC"\n\n[late]\nper_dya = 0.1\n')
    with pytest.raises(CourseError) as error:
        read_course(course, ["keyword_spotting"])
    assert str(error.value).startswith(f"{course}, line 4: [late] 'per_dya' is not a key of [late]; "
                                       "did you mean per_day?")  # fmt: skip
    toml = read_toml(Path("spec.toml"), SPEC, SpecError)
    assert toml.table["tasks"]["task2"]["rules"] == {"layer_class": "Other"}
    assert str(toml.fail(("late", "cap"), "too high")) == "spec.toml, line 11: too high"
