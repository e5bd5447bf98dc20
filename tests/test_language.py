"""fakereview_nlp.language: language guesses, the too-short rule and the out-of-scope decision.

Offline (py3langid's model ships in its wheel); every text here was written for these tests.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from fakereview_nlp.language import (
    MIN_CONFIDENCE,
    MIN_LETTERS,
    LanguageGuess,
    detect_languages,
    in_scope,
    out_of_scope_reason,
)

SENTENCES = {
    "en": "The room was clean and quiet, and the staff at the front desk were friendly and helpful.",
    "de": "Das Zimmer war sauber und ruhig, und das Personal an der Rezeption war sehr freundlich.",
    "fr": "La chambre était propre et calme, et le personnel de la réception était très aimable.",
    "es": "La habitación estaba limpia y tranquila, y el personal de recepción fue muy amable.",
    "it": "La camera era pulita e silenziosa, e il personale della reception era molto gentile.",
    "ru": "Номер был чистым и тихим, а персонал на ресепшене был очень приветливым и вежливым.",
    "ko": "방은 깨끗하고 조용했으며 프런트 직원들이 매우 친절하고 도움이 되었습니다.",
    "zh": "房间干净安静，前台的工作人员非常友好，也很乐于助人。",
    "tr": "Oda temiz ve sessizdi, resepsiyondaki personel çok güler yüzlü ve yardımseverdi.",
}


def test_each_language_is_identified_confidently() -> None:
    guesses = detect_languages(list(SENTENCES.values()))
    assert [g.language for g in guesses] == list(SENTENCES)
    assert all(g.reason == "identified" and g.confidence >= MIN_CONFIDENCE for g in guesses)
    assert all(0.0 <= g.confidence <= 1.0 for g in guesses)


def test_only_the_model_languages_are_in_scope() -> None:
    guesses = detect_languages(list(SENTENCES.values()))
    assert [in_scope(g, ("en",)) for g in guesses] == [code == "en" for code in SENTENCES]
    assert [in_scope(g, ("en", "de")) for g in guesses] == [code in {"en", "de"} for code in SENTENCES]


@pytest.mark.parametrize(
    "text", ["", "   ", "ok", "A+", "12345", "5/5", "\U0001f44d\U0001f44d\U0001f60d", "!!!"]
)
def test_texts_with_too_few_letters_are_too_short(text: str) -> None:
    [guess] = detect_languages([text])
    assert guess == LanguageGuess(None, 0.0, "too short")
    assert not in_scope(guess, ("en",))
    assert out_of_scope_reason(guess, ("en",)) == "too short to identify its language"


def test_min_letters_counts_letters_not_characters() -> None:
    assert MIN_LETTERS == 3
    assert detect_languages(["a 1 b 2 !!"])[0].reason == "too short"
    assert detect_languages(["hello"])[0].reason == "identified"


def test_short_english_is_in_scope_unless_a_confidence_bar_is_set() -> None:
    [guess] = detect_languages(["Great!"])
    assert guess.reason == "identified" and guess.language == "en" and guess.confidence < 0.2
    assert MIN_CONFIDENCE == 0.0 and in_scope(guess, ("en",))
    assert not in_scope(guess, ("en",), min_confidence=0.2)
    assert out_of_scope_reason(guess, ("en",), min_confidence=0.2).startswith("language uncertain: ")


def test_reasons_read_on_one_line() -> None:
    assert out_of_scope_reason(LanguageGuess("ru", 0.99, "identified"), ("en",)) == (
        "language 'ru' (0.99); the model reads en"
    )
    assert out_of_scope_reason(LanguageGuess("en", 0.12, "identified"), ("en",), min_confidence=0.2) == (
        "language uncertain: en at 0.12 < 0.2"
    )
    assert (
        out_of_scope_reason(LanguageGuess(None, 0.0, "no language"), ("en",))
        == "no language identified in it"
    )
    assert out_of_scope_reason(LanguageGuess("en", 0.97, "identified"), ("en",)) is None


def test_min_confidence_can_be_overridden() -> None:
    guess = LanguageGuess("en", 0.5, "identified")
    assert in_scope(guess, ("en",))
    assert not in_scope(guess, ("en",), min_confidence=0.6)
    assert in_scope(LanguageGuess("en", 0.0, "identified"), ("en",), min_confidence=0.0)


def test_guesses_are_deterministic_and_independent_of_batching() -> None:
    texts = list(SENTENCES.values()) + ["Great!", "ok"]
    together = detect_languages(texts)
    assert detect_languages(texts) == together
    assert [detect_languages([t])[0] for t in texts] == together


def test_order_is_kept_and_empty_input_gives_empty_list() -> None:
    texts = [SENTENCES["ru"], "", SENTENCES["en"], SENTENCES["ko"]]
    assert [g.language for g in detect_languages(texts)] == ["ru", None, "en", "ko"]
    assert detect_languages([]) == []
    assert detect_languages(tuple(texts[:1]))[0].language == "ru"


def test_bare_string_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"^detect_languages\(\) expects a list of texts; wrap a single text as \[text\]$"
    ):
        detect_languages(SENTENCES["en"])


def test_non_string_items_are_refused_with_their_index() -> None:
    with pytest.raises(
        TypeError, match=r"^detect_languages\(\) expects texts of type str; texts\[1\] is int$"
    ):
        detect_languages(["fine", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType$"):
        detect_languages([None])


def test_model_languages_as_a_string_is_refused() -> None:
    guess = LanguageGuess("en", 0.9, "identified")
    with pytest.raises(
        TypeError, match=r"^model_languages must be a list of ISO 639-1 codes, e.g. \('en',\); got a str$"
    ):
        in_scope(guess, "en")


def test_min_confidence_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^min_confidence must be in \[0, 1\]; got 1.5$"):
        in_scope(LanguageGuess("en", 0.9, "identified"), ("en",), min_confidence=1.5)


def test_guess_is_frozen() -> None:
    guess = LanguageGuess("en", 0.9, "identified")
    with pytest.raises(AttributeError):
        guess.language = "de"  # type: ignore[misc]


def test_threads_share_one_detector_and_agree() -> None:
    texts = list(SENTENCES.values())
    expected = detect_languages(texts)
    results: list[list[LanguageGuess]] = []

    def work() -> None:
        results.append(detect_languages(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_importing_the_package_does_not_load_the_detector() -> None:
    code = "import sys, fakereview_nlp, fakereview_nlp.language; print('py3langid' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
