"""Text in, text out: a `LanguageModel` with its tokenizer, as a model folder and as a SavedModel.

`LanguageModelModule` puts the tokenizer, the `LanguageModel` and a sampler in one `tf.Module`
with two TensorFlow graphs: `generate` (prompts, a number of tokens and a temperature to
continuations) and `score` (sentences to log-probabilities). `export_saved_model` writes them as
a SavedModel whose two signatures run with TensorFlow and TensorFlow Text alone (no
`lstm_keras`):

    import tensorflow as tf, tensorflow_text  # noqa: the Text ops must be registered
    loaded = tf.saved_model.load("runs/ptb/saved_model")
    loaded.signatures["generate"](prompts=tf.constant(["the company said"]),
                                  num_tokens=tf.constant(20), temperature=tf.constant(0.8))["texts"]
    loaded.signatures["score"](sentences=tf.constant(["the company said it expects"]))["log_probabilities"]

`export_portable` writes the `stream` step as a LiteRT (`.tflite`) or ONNX file
(`lstm_keras.conversion`), with the vocabulary and a plain-Python reference tokenizer beside it:
`token_ids` (int32 `[batch, T]`: one token for a next-token step, or a chunk, right-padded with
0; batch 1 in LiteRT) and `state` (float32 `[batch, S]`, zeros at the start of a text) to
`log_probabilities` (float32 `[batch, T, V]`) and `next_state` (the state after the chunk). A text is read after
`[END]` (id 2), as the model was trained; sampling runs in the caller.

`save_language_model` / `load_language_model` keep the Python objects in a model folder:
`model.keras`, `vocabulary.txt` and `language_model.json` (tokenizer settings, sampler, limits).
"""

import os

import numpy as np
import tensorflow as tf

from lstm_keras import decoding
from lstm_keras.conversion import export_loaded
from lstm_keras.conversion import random_token_ids
from lstm_keras.conversion import write_export
from lstm_keras.models.language_model import MAX_GENERATED_TOKENS
from lstm_keras.saving import MODEL_FILE
from lstm_keras.saving import load_model_folder
from lstm_keras.saving import save_model_folder
from lstm_keras.saving import write_saved_model
from lstm_keras.text import Tokenizer

VOCABULARY_FILE = "vocabulary.txt"
SETTINGS_FILE = "language_model.json"
SAVED_MODEL_DIR = "saved_model"
MODEL_FILES = (MODEL_FILE, VOCABULARY_FILE, SETTINGS_FILE)
SCORE_BATCH_SIZE = 64  # sentences per graph call of `LanguageModelModule.score_texts`
# Prompts longer than this are read from their last MAX_PROMPT_TOKENS tokens.
MAX_PROMPT_TOKENS = 256


class LanguageModelModule(tf.Module):
    """Generates and scores text: tokenisation, the language model and detokenisation in TensorFlow graphs.

    `generate(prompts, num_tokens, temperature)` (`tf.string (batch,)`, int32 scalar, float32
    scalar) returns `{"texts": tf.string (batch,)}`, the continuation of every prompt:

    1. bytes that are not valid UTF-8 become U+FFFD (no input makes tokenisation fail);
    2. the tokenizer normalises and splits the prompt; unknown words become `[UNK]`; a prompt
       longer than `max_prompt_length` tokens is read from its last `max_prompt_length` tokens;
    3. the model reads `[END]` + the prompt (an empty prompt, or one of only unknown words, is
       a valid context: a new sentence, or one after `[UNK]`s) and the sampler draws at most
       `num_tokens` tokens, stopping after `[END]` (the end of the sentence);
    4. the tokenizer turns the new tokens into text (without `[END]`).

    `num_tokens` must be in [1, `max_new_tokens`] and `temperature` a finite number > 0: other
    values fail with an `InvalidArgumentError` that names the argument.

    `score(sentences)` returns `{"log_probabilities": float32 (batch,), "num_tokens": int32
    (batch,)}`: the natural-log probability `log P(w_1 .. w_n [END] | [END])` of each sentence
    as the model tokenises it, and `n + 1`, the number of tokens scored (`[END]` included; an
    empty sentence is `[END]` alone), so `exp(-log_probability / num_tokens)` is its perplexity.

    Args:
        model: a `LanguageModel`.
        tokenizer: its `lstm_keras.text.Tokenizer`.
        sampler: a sampler, its name or its config (`lstm_keras.decoding.get`); random sampling
            by default (`"greedy"`, `"top_k"`, `"top_p"`, ...).
        max_prompt_length: the most prompt tokens read.
        max_new_tokens: the largest `num_tokens` (at most `MAX_GENERATED_TOKENS`).
        name: the module name.

    Example:
    >>> from lstm_keras.models.language_model import LanguageModel
    >>> tokenizer = Tokenizer.from_texts(["the cat sat", "the dog ran"])
    >>> model = LanguageModel(tokenizer.vocab_size, embedding_dim=4, units=4, num_layers=1)
    >>> module = LanguageModelModule(model, tokenizer, sampler="greedy")
    >>> module.generate(tf.constant(["the cat", ""]), tf.constant(3), tf.constant(1.0))["texts"].shape
    TensorShape([2])
    >>> module.score(tf.constant(["the cat sat", "zzz"]))["num_tokens"].numpy().tolist()
    [4, 2]
    """

    def __init__(self, model, tokenizer, sampler="random", max_prompt_length=MAX_PROMPT_TOKENS,
                 max_new_tokens=MAX_GENERATED_TOKENS, name=None):
        super().__init__(name=name)
        if not isinstance(max_prompt_length, int) or max_prompt_length < 1:
            raise ValueError(
                f"Invalid value for argument `max_prompt_length`: expected a positive int. "
                f"Received: max_prompt_length={max_prompt_length!r}"
            )
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_GENERATED_TOKENS:
            raise ValueError(
                f"Invalid value for argument `max_new_tokens`: expected an int in [1, {MAX_GENERATED_TOKENS}]. "
                f"Received: max_new_tokens={max_new_tokens!r}"
            )
        if tokenizer.vocab_size != model.vocabulary_size:
            raise ValueError(
                f"the tokenizer has {tokenizer.vocab_size} tokens but the model {model.vocabulary_size}: "
                "they were not trained together"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.sampler = decoding.get(sampler)
        self.max_prompt_length = max_prompt_length
        self.max_new_tokens = max_new_tokens
        self.generate = tf.function(
            self._generate,
            input_signature=[
                tf.TensorSpec([None], tf.string, name="prompts"),
                tf.TensorSpec([], tf.int32, name="num_tokens"),
                tf.TensorSpec([], tf.float32, name="temperature"),
            ],
        )
        self.score = tf.function(self._score, input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
        self.tokenize = tf.function(self._tokenize, input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
        self.stream = tf.function(self._stream, input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, model.flat_state_size()], tf.float32, name="state"),
        ])

    def token_ids(self, texts, max_length=None):
        """Token ids of `texts` `(batch,)`: int32 `(batch, T)`, right-padded (the last `max_length` of each)."""
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        ids = self.tokenizer.tokenize(texts)  # (batch, (tokens))
        if max_length is not None:
            ids = ids[:, -max_length:]  # (batch, (<= max_length))
        return tf.cast(ids.to_tensor(default_value=self.model.pad_token_id), tf.int32)  # (batch, T)

    def _generate(self, prompts, num_tokens, temperature):
        checks = [
            tf.debugging.assert_greater_equal(
                num_tokens, 1, message=f"num_tokens must be in [1, {self.max_new_tokens}]"
            ),
            tf.debugging.assert_less_equal(
                num_tokens, self.max_new_tokens, message=f"num_tokens must be in [1, {self.max_new_tokens}]"
            ),
            tf.debugging.assert_positive(temperature, message="temperature must be a finite number > 0"),
            tf.debugging.assert_less(temperature, float("inf"), message="temperature must be a finite number > 0"),
        ]
        with tf.control_dependencies(checks):
            prompt_ids = self.token_ids(prompts, self.max_prompt_length)  # (batch, P)
        tokens = self.model.generate(prompt_ids, num_tokens, self.sampler, temperature)  # (batch, T)
        return {"texts": self.tokenizer.detokenize(tokens)}  # (batch,)

    def _score(self, sentences):
        token_ids = self.token_ids(sentences)  # (batch, T)
        log_probabilities, counts = self.model.score(token_ids)  # (batch,), (batch,)
        return {"log_probabilities": log_probabilities, "num_tokens": tf.cast(counts, tf.int32)}

    def _tokenize(self, texts):
        return {"token_ids": self.token_ids(texts)}

    def _stream(self, token_ids, state):
        log_probabilities, state = self.model.stream(token_ids, state)
        return {"log_probabilities": log_probabilities, "state": self.model.flatten_state(state)}

    def generate_texts(self, prompts, num_tokens=50, temperature=1.0):
        """Continues a list of prompts (str or bytes); returns a list of strings.

        Raises:
            ValueError: `num_tokens` or `temperature` is out of range (the message names it).
        """
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or not 1 <= num_tokens <= self.max_new_tokens:
            raise ValueError(
                f"Invalid value for argument `num_tokens`: expected an int in [1, {self.max_new_tokens}]. "
                f"Received: num_tokens={num_tokens!r}"
            )
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < float("inf"):
            raise ValueError(
                f"Invalid value for argument `temperature`: expected a finite number > 0. "
                f"Received: temperature={temperature!r}"
            )
        outputs = self.generate(
            tf.constant(list(prompts), dtype=tf.string), tf.constant(num_tokens, tf.int32),
            tf.constant(temperature, tf.float32),
        )
        return [text.decode("utf-8") for text in outputs["texts"].numpy()]

    def score_texts(self, sentences, batch_size=SCORE_BATCH_SIZE):
        """Scores a list of sentences (str or bytes), `batch_size` a graph call; returns a list of `(log_probability, num_tokens)`."""
        sentences = list(sentences)
        scores = []
        for start in range(0, len(sentences), batch_size):
            outputs = self.score(tf.constant(sentences[start:start + batch_size], dtype=tf.string))
            scores += [(float(lp), int(n)) for lp, n in zip(outputs["log_probabilities"].numpy(),
                                                            outputs["num_tokens"].numpy())]
        return scores

    def get_config(self):
        """The settings saved beside the model (`language_model.json`)."""
        return {
            "tokenizer": self.tokenizer.get_config(),
            "sampler": decoding.serialize(self.sampler),
            "max_prompt_length": self.max_prompt_length,
            "max_new_tokens": self.max_new_tokens,
        }


def export_saved_model(module, path):
    """Writes `module` as a SavedModel at `path` (atomically), with `generate`, `score`, `tokenize` and `stream`.

    `generate`: `prompts` (`tf.string (batch,)`), `num_tokens` (int32 scalar), `temperature`
    (float32 scalar) -> `{"texts": tf.string (batch,)}`. `score`: `sentences` (`tf.string
    (batch,)`) -> `{"log_probabilities": float32 (batch,), "num_tokens": int32 (batch,)}`.
    `tokenize`: `texts` (`tf.string (batch,)`) -> `{"token_ids": int32 (batch, T)}`, right-padded
    with 0. `stream` (streaming inference: a long text read chunk by chunk, `LanguageModel.stream`):
    `token_ids` (int32 `(batch, T)`, right-padded with 0) and `state` (float32 `(batch, S)`: zeros
    at the start of a text, then the `state` the previous call returned) -> `{"log_probabilities":
    float32 (batch, T, V), "state": float32 (batch, S)}`, the distribution of the next token after
    each step; `S` is the model's `flat_state_size()`.
    """
    write_saved_model(path, [module.model, module.tokenizer], {
        "generate": module.generate, "score": module.score, "tokenize": module.tokenize, "stream": module.stream})


def export_portable(module, path, format, overwrite=False):
    """Writes the module's `stream` step as a LiteRT or ONNX file, its tokenizer beside it (`write_export`).

    Returns:
        The export's summary (`write_export`).
    """
    model = module.model
    batch = 1 if format == "tflite" else None

    def stream(token_ids, state):
        outputs = module._stream(token_ids, state)
        # ONNX names a graph's inputs and outputs alike: the state out needs a name of its own.
        return {"log_probabilities": outputs["log_probabilities"], "next_state": outputs["state"]}

    function = tf.function(stream, input_signature=[
        tf.TensorSpec([batch, None], tf.int32, name="token_ids"),
        tf.TensorSpec([batch, model.flat_state_size()], tf.float32, name="state"),
    ])
    checks = []
    for ids in random_token_ids(model.vocabulary_size, (1, 5), batch or 3):
        zeros = np.zeros((ids.shape[0], model.flat_state_size()), "float32")  # (batch, S): a text's start
        read = stream(tf.constant(ids), tf.constant(zeros))["next_state"].numpy()  # (batch, S): after a chunk
        checks += [(ids, zeros), (ids, read)]
    details = {"task": "lm", "state_size": model.flat_state_size(), "context_start_id": model.end_token_id,
               "end_id": model.end_token_id, "pad_id": model.pad_token_id}
    tokenizer = (module.tokenizer.get_config(), module.tokenizer.vocabulary)
    return write_export(path, format, {"stream": function}, {"stream": checks}, {"tokenizer": tokenizer}, details,
                        overwrite)


def export_model_folder(directory, out, format, overwrite=False):
    """Exports the language model of an `lm train` folder as a SavedModel (`out` a folder) or a LiteRT / ONNX file.

    Returns:
        The summary: `{"format", "files"}` for a SavedModel, `export_portable`'s for the others.
    """
    return export_loaded(lambda: load_language_model(directory), format, out, overwrite, export_saved_model,
                         export_portable)


def save_language_model(directory, module, extra_settings=None):
    """Writes `model.keras`, `vocabulary.txt` and `language_model.json` into `directory` (each atomically)."""
    save_model_folder(directory, module.model, {VOCABULARY_FILE: module.tokenizer}, SETTINGS_FILE,
                      {**module.get_config(), **(extra_settings or {})})


def load_language_model(directory, sampler=None):
    """Loads a model folder written by `save_language_model` as a `LanguageModelModule`.

    Args:
        directory: the folder.
        sampler: None for the saved sampler, else a sampler, its name or its config.

    Raises:
        FileNotFoundError: the folder or one of its files is missing (the message names it).
    """
    model, settings = load_model_folder(directory, MODEL_FILES, SETTINGS_FILE, "lm train")
    tokenizer = Tokenizer.from_config(settings["tokenizer"], os.path.join(directory, VOCABULARY_FILE))
    return LanguageModelModule(
        model, tokenizer,
        sampler=settings["sampler"] if sampler is None else sampler,
        max_prompt_length=settings["max_prompt_length"],
        max_new_tokens=settings["max_new_tokens"],
    )
