"""`score_translations` against sacreBLEU's own functions on hand-made hypotheses and references."""

import pytest
import sacrebleu

from lstm_keras.models.translation.metrics import score_translations

HYPOTHESES = ["¿Dónde está el gato?", "the cat sat on the mat", "Él   come pan."]
REFERENCES = ["¿Dónde está el gato?", "The dog sat on the mat.", "Él come pan."]


def test_the_headline_bleu_is_sacrebleus_default_against_the_raw_references():
    scores = score_translations(HYPOTHESES, REFERENCES)
    assert scores["bleu"] == round(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score, 2)
    assert scores["bleu_case_insensitive"] == round(
        sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], lowercase=True).score, 2)
    assert scores["chrf"] == round(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score, 2)
    assert "case:mixed" in scores["bleu_signature"] and "tok:13a" in scores["bleu_signature"]
    assert "case:lc" in scores["bleu_case_insensitive_signature"]
    # The lowercase hypothesis costs cased BLEU only; whitespace does not count for exact match.
    assert scores["bleu"] < scores["bleu_case_insensitive"] < 100
    assert scores["exact_match"] == round(2 / 3, 4) and scores["sentences"] == 3


def test_accents_count():
    scores = score_translations(["Donde esta el gato?"], ["¿Dónde está el gato?"])
    assert scores["bleu"] < 100 and scores["bleu_case_insensitive"] < 100 and scores["exact_match"] == 0


def test_mismatched_or_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="3 translations for 1 references"):
        score_translations(HYPOTHESES, REFERENCES[:1])
    with pytest.raises(ValueError, match="no sentences"):
        score_translations([], [])
