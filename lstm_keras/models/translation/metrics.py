"""`score_translations`: sacreBLEU corpus BLEU and chrF, the references normalised like the model's output."""

from lstm_keras.text import normalize


def score_translations(hypotheses, references, target_tokenizer):
    """Corpus BLEU and chrF (sacreBLEU) of detokenised translations, plus exact match.

    The model writes text the way its target tokenizer normalises it (lowercased, accents
    stripped, by default), so the references are normalised the same way first (without
    splitting punctuation: sacreBLEU tokenises both sides with its standard `13a` tokenizer);
    BLEU is then case-insensitive (`case:lc` in its signature) when the tokenizer lowercases.

    Args:
        hypotheses: the translations (strings), as `TranslationModule` writes them.
        references: the reference translations (strings), one per hypothesis.
        target_tokenizer: the model's target `lstm_keras.text.Tokenizer` (its normalisation).

    Returns:
        A dict: `bleu`, `chrf`, `exact_match` (share of translations equal to their reference
        after the same normalisation and whitespace collapsing), the sacreBLEU signatures and
        the number of sentences.

    Raises:
        ValueError: not one hypothesis per reference, or no sentences.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.metrics import CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} translations for {len(references)} references")
    if not references:
        raise ValueError("no sentences to score")
    normalized = normalize(
        list(references), form=target_tokenizer.form, lowercase=target_tokenizer.lowercase,
        strip_accents=target_tokenizer.strip_accents, split_punctuation=False,
    )
    references = [text.decode("utf-8") for text in normalized.numpy()]
    bleu = BLEU(lowercase=target_tokenizer.lowercase)
    chrf = CHRF()
    exact = sum(" ".join(h.split()) == " ".join(r.split()) for h, r in zip(hypotheses, references))
    return {
        "bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
        "exact_match": round(exact / len(references), 4),
        "sentences": len(references),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }
