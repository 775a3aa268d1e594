"""`score_translations` against sacreBLEU on hand-made hypotheses and references."""

import pytest

from lstm_keras.models.translation.metrics import score_translations
from lstm_keras.text import RESERVED_TOKENS
from lstm_keras.text import Tokenizer


def test_scores_compare_with_references_normalised_like_the_model():
    tokenizer = Tokenizer(list(RESERVED_TOKENS))  # lowercases and strips accents, as by default
    hypotheses = ["creme brulee, s'il vous plait!", "the cat sat on the mat"]
    references = ["Crème  Brûlée, s'il vous plaît!", "The dog sat on the mat."]
    scores = score_translations(hypotheses[:1], references[:1], tokenizer)
    assert (scores["bleu"], scores["chrf"], scores["exact_match"]) == (100.0, 100.0, 1.0)
    assert "case:lc" in scores["bleu_signature"] and "tok:13a" in scores["bleu_signature"]
    scores = score_translations(hypotheses, references, tokenizer)
    assert scores["exact_match"] == 0.5 and 0 < scores["bleu"] < 100
    with pytest.raises(ValueError, match="2 translations for 1 references"):
        score_translations(hypotheses, references[:1], tokenizer)
