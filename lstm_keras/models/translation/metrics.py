"""`score_translations`: sacreBLEU's standard corpus BLEU (cased, `13a`), its case-insensitive BLEU and chrF."""


def score_translations(hypotheses, references):
    """Corpus BLEU and chrF (sacreBLEU) of detokenised translations against the raw references.

    The headline `bleu` is sacreBLEU's default: cased, `13a` tokenisation, exponential smoothing,
    against the references exactly as the corpus has them (the signature says so). A model
    trained on lowercased, accent-stripped targets (`--lowercase`) loses those points here;
    `bleu_case_insensitive` (sacreBLEU's `lowercase=True`, `case:lc`) is given alongside, and
    chrF (character 6-grams, cased).

    Args:
        hypotheses: the translations (strings), as `TranslationModule` writes them.
        references: the reference translations (strings), one per hypothesis.

    Returns:
        A dict: `bleu`, `bleu_case_insensitive`, `chrf`, `exact_match` (share of translations
        equal to their reference once whitespace is collapsed), the sacreBLEU signatures
        (`bleu_signature`, `bleu_case_insensitive_signature`, `chrf_signature`) and the number
        of `sentences`.

    Raises:
        ValueError: not one hypothesis per reference, or no sentences.

    Example:
    >>> scores = score_translations(["¿Dónde está el gato negro?"], ["¿Dónde está el gato negro?"])
    >>> scores["bleu"], scores["bleu_signature"].split("|")[1]
    (100.0, 'case:mixed')
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.metrics import CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} translations for {len(references)} references")
    if not references:
        raise ValueError("no sentences to score")
    references = list(references)
    exact = sum(" ".join(h.split()) == " ".join(r.split()) for h, r in zip(hypotheses, references))
    scores = {}
    for name, metric in (("bleu", BLEU()), ("bleu_case_insensitive", BLEU(lowercase=True)), ("chrf", CHRF())):
        scores[name] = round(metric.corpus_score(list(hypotheses), [references]).score, 2)
        scores[f"{name}_signature"] = str(metric.get_signature())
    return {**scores, "exact_match": round(exact / len(references), 4), "sentences": len(references)}
