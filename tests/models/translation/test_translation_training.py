"""The `translate train` recipe's time-budget pieces (`lstm_keras.models.translation.training`)."""

import types

import pytest

pytest.importorskip("tensorflow_text")

from lstm_keras.models.translation import training as recipe  # noqa: E402
from lstm_keras.models.translation.export import TRANSLATE_BATCH_SIZE  # noqa: E402
from lstm_keras.text import Tokenizer  # noqa: E402


class FakeModule:
    """Translates every text to `output` (words of the target vocabulary) in `seconds` per call, on a fake clock."""

    def __init__(self, clock, output, seconds):
        self.clock, self.output, self.seconds, self.calls = clock, output, seconds, []
        self.target_tokenizer = Tokenizer.from_texts(["a b c d e f g h"], kind="word")

    def __call__(self, texts):
        self.clock[0] += self.seconds
        self.calls.append(list(texts))
        return [self.output] * len(texts)


@pytest.mark.parametrize("output", ["", "a b c d e f g h a b c d e f g h", "a b"], ids=["stops", "runs on", "short"])
def test_translation_time_scales_the_probe_to_the_test_set_and_to_the_references_length(output):
    clock = [0.0]
    module = FakeModule(clock, output, seconds=2.0)
    pairs = [(f"source {i}", "a b c" if i != 6 else "a b c d e") for i in range(3 * TRANSLATE_BATCH_SIZE + 10)]
    timer = recipe.TranslationTime(module, pairs, clock=lambda: clock[0])
    # The probe: a batch of sentences spread over the whole split, every third here.
    assert module.calls == [[f"source {i}" for i in range(0, 3 * TRANSLATE_BATCH_SIZE, 3)]]
    # A step per token, [END] included, until the batch's longest output ends: the probe's longest reference (the
    # one in the probe with 5 words) needs 6 steps, the model wrote len(output) + 1. While it trains, the time
    # measured is scaled to the references' steps, down for outputs that run on, up for those that stop early.
    written = len(output.split()) + 1
    measured = recipe.TRANSLATION_MARGIN * 2.0 * len(pairs) / TRANSLATE_BATCH_SIZE
    assert timer.seconds == pytest.approx(measured * 6 / written)
    # Before an epoch is trained, a refresh changes nothing; at an epoch's end it is measured again.
    module.output, module.seconds = "a b c d e", 1.0
    timer.refresh()
    assert timer.seconds == pytest.approx(measured * 6 / written)
    timer.on_epoch_end(0)
    assert timer.seconds == pytest.approx(recipe.TRANSLATION_MARGIN * len(pairs) / TRANSLATE_BATCH_SIZE)
    # As training stops, the model that will translate is timed as it is, and not again at the epoch's end.
    module.output, module.seconds = output, 2.0
    timer.refresh()
    assert timer.seconds == pytest.approx(measured)
    timer.set_model(types.SimpleNamespace(stop_training=True))
    before = clock[0]
    timer.on_epoch_end(1)
    assert clock[0] == before and timer.seconds == pytest.approx(measured)
