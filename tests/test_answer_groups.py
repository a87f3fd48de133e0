"""`kws mark`'s groups of written answers (kws.grading.marking.groups) in the courses' own
languages: Chinese answers are compared by their characters, since Chinese puts no spaces
between words, Polish and English ones by their words, with one threshold meaning the same in
each: a copy with a word or two changed is one card, a different answer to the same question
is a card of its own."""

import unicodedata

import marking_class
from course_helpers import ROOT
from marking_class import SHARED, student_name, write_class

from kws.grading.marking.groups import group_answers, tokens
from kws.grading.marking.session import MarkingSession

# An answer of the Traditional Chinese course (why attention scores are scaled), a copy with a
# character added, one with a clause reworded, another student's own wording of the same idea,
# and a different answer.
ZH = "因為點積的變異數會隨著維度增加而變大，softmax會飽和，梯度消失。"
ZH_ONE_CHARACTER = "因為點積的變異數會隨著維度增加而變大，softmax 會飽和，梯度會消失。"
ZH_TWO_CHARACTERS = "因為點積的變異數會隨著維度增大而變大，Softmax會飽和，梯度就消失"
ZH_OWN_WORDS = "點積的變異數隨維度變大，所以要縮放，不然 softmax 會飽和，梯度消失。"
ZH_OTHER = "除以根號 d 是為了讓注意力分數的尺度保持穩定，避免 softmax 輸出太尖銳，訓練較易收斂。"

PL = (
    "Cechy po uśrednianiu nie mają ustalonej skali, więc logity się nasycają; warstwa "
    "BatchNorm1d sprowadza każdą cechę do jednego zakresu i model się uczy."
)
PL_ONE_WORD = PL.replace("ustalonej", "stałej").upper()
PL_OTHER = (
    "Normalizacja warstwy zmniejsza liczbę parametrów, więc model uczy się szybciej na "
    "małym zbiorze i mniej się przeucza."
)


def test_chinese_answers_a_character_or_two_apart_are_one_card():
    groups = group_answers(
        {"#1": ZH, "#2": ZH_ONE_CHARACTER, "#3": ZH_TWO_CHARACTERS, "#4": ZH_OTHER}
    )
    assert groups == [["#1", "#2", "#3"], ["#4"]]


def test_chinese_answers_in_other_words_are_cards_of_their_own():
    assert group_answers({"#1": ZH, "#2": ZH_OWN_WORDS, "#3": ZH_OTHER}) == [
        ["#1"],
        ["#2"],
        ["#3"],
    ]


def test_full_width_letters_and_punctuation_are_the_same_answer():
    """NFKC: the full-width Latin letters and comma a Chinese keyboard types are the same text."""
    wide = ZH.replace("softmax", "ｓｏｆｔｍａｘ").replace("，", ",")
    assert group_answers({"#1": ZH, "#2": wide}) == [["#1", "#2"]]


def test_polish_answers_group_by_words_with_their_diacritics():
    decomposed = unicodedata.normalize("NFD", PL)  # the same letters, as macOS may save them
    groups = group_answers({"#1": PL, "#2": PL_ONE_WORD, "#3": decomposed, "#4": PL_OTHER})
    assert groups == [["#1", "#2", "#3"], ["#4"]]
    # a diacritic is part of its letter: "że" is not "ze", nor split into "z" and "e"
    assert tokens("Że gęślą") == ["że", "gęślą"] and tokens("Ze") == ["ze"]


def test_mixed_text_is_words_and_characters_by_runs():
    assert tokens("用 BatchNorm1d 正規化，x_i 的尺度") == [
        "用", "batchnorm1d", "正", "規", "化", "x_i", "的", "尺", "度",
    ]  # fmt: skip
    assert tokens("「梯度」消失。") == ["梯", "度", "消", "失"]  # punctuation is no token
    assert tokens("ภาษาไทย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    assert tokens("กิน") == ["กิ", "น"]  # the vowel sign stays on its consonant


def test_english_answers_group_as_before():
    """The class `kws mark`'s tests grade: the shared answer, and it in capitals with double
    spaces and a word changed, are one card; a student's own answer is not."""
    shared = SHARED["norm-classifier"]
    changed = shared.upper().replace(" ", "  ").replace("FIXED", "SET")
    own = "A student's own answer: " + " ".join(f"word{i}" for i in range(30))
    assert group_answers({"#1": shared, "#2": own, "#3": changed}) == [["#1", "#3"], ["#2"]]


def test_kws_marks_page_shows_a_chinese_class_its_cards(tmp_path, monkeypatch):
    """A graded class whose students answered in Chinese, as `kws mark` reads it: the answers a
    character or two apart are one card, the others cards of their own."""
    answers = [ZH, ZH_ONE_CHARACTER, ZH_TWO_CHARACTERS, ZH_OWN_WORDS, ZH_OTHER]
    key = "norm-classifier"

    def answer_of(number, question):
        return answers[number] if question == key else None

    monkeypatch.setattr(marking_class, "answer_of", answer_of)
    course = write_class(tmp_path / "course", len(answers))
    session = MarkingSession(course / "grades", solutions=ROOT / "solutions", grader="kim")
    alias = [session.alias[student_name(n)] for n in range(len(answers))]
    groups = {frozenset(group) for group in session.question(f"speaker_id/{key}")["groups"]}
    assert groups == {frozenset(alias[:3]), frozenset(alias[3:4]), frozenset(alias[4:])}
