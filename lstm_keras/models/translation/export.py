"""Text in, text out: a `Translator` with its tokenizers, saved as `.keras` files and as a SavedModel.

`TranslationModule` puts the source tokenizer, the `Translator` with a sampler and the target
tokenizer in one `tf.Module` whose `translate` is a TensorFlow graph from a `tf.string` batch to a
`tf.string` batch. `export_saved_model` writes it as a SavedModel with a `translate` signature
that runs with TensorFlow and TensorFlow Text alone (no `lstm_keras`):

    import tensorflow as tf, tensorflow_text  # noqa: the Text ops must be registered
    translate = tf.saved_model.load("runs/demo/saved_model").signatures["translate"]
    translate(texts=tf.constant(["26 de noviembre de 2026"]))["translations"]

`export_portable` writes the translator as a LiteRT (`.tflite`, two signatures) or ONNX file (two
files, `<name>_encode.onnx` and `<name>_decode_step.onnx`) that a caller drives token by token
(a whole beam search does not convert; greedy search is a short loop, see the tests), with both
vocabularies and a plain-Python reference tokenizer beside it:

- `encode`: `source_ids` (int32 `[batch, Ts]`: `[START]`, the source tokens, `[END]`,
  right-padded with 0; batch 1 in LiteRT) to the decoding state (`lstm_0`, `lstm_1`, ...: the
  decoder's recurrent states; `encoder_outputs`, `source_mask` and, with attention weights on
  projected keys, `keys`; `feed` with input feeding) and `max_new_tokens` (int32 `[batch]`);
- `decode_step`: `token` (int32 `[batch]`, `[START]` first, then the token chosen) and every
  state tensor to `logits` (float32 `[batch, V]`, padding and `[START]` at -1e9) and
  `next_<name>` for each state that changes (`carried_state` in the JSON file; the others are
  passed again as `encode` returned them).

`save_translation_model` / `load_translation_model` keep the Python objects in a model folder:
`model.keras`, the two vocabularies and `translation.json` (tokenizer settings, sampler, lengths).
"""

import os

import numpy as np
import tensorflow as tf

from lstm_keras import decoding
from lstm_keras.conversion import export_loaded
from lstm_keras.conversion import random_token_ids
from lstm_keras.conversion import write_export
from lstm_keras.saving import MODEL_FILE
from lstm_keras.saving import load_model_folder
from lstm_keras.saving import read_model_settings
from lstm_keras.saving import save_model_folder
from lstm_keras.saving import write_saved_model
from lstm_keras.text import Tokenizer
from lstm_keras.text.tokenizer import END_ID
from lstm_keras.text.tokenizer import START_ID
from lstm_keras.text.tokenizer import UNK_ID

SOURCE_VOCABULARY_FILE = "source_vocabulary.txt"
TARGET_VOCABULARY_FILE = "target_vocabulary.txt"
SETTINGS_FILE = "translation.json"
SAVED_MODEL_DIR = "saved_model"
MODEL_FILES = (MODEL_FILE, SOURCE_VOCABULARY_FILE, TARGET_VOCABULARY_FILE, SETTINGS_FILE)
SIGNATURE = "translate"
COMMAND = "translate train"  # writes such model folders
TRANSLATE_BATCH_SIZE = 128  # sentences per graph call of `TranslationModule.__call__`


class TranslationModule(tf.Module):
    """Translates text: tokenisation, generation and detokenisation in one TensorFlow graph.

    The steps of `translate`, all graph ops:

    1. bytes that are not valid UTF-8 become U+FFFD (so no input can make tokenisation fail);
    2. the source tokenizer normalises and splits the text; unknown words become `[UNK]`;
    3. each sentence is truncated to its first `max_source_length - 2` tokens (longer inputs are
       translated from that beginning only), then wrapped in `[START]` ... `[END]`, as in training;
    4. the `Translator` generates target ids with the sampler (beam search by default);
    5. the target tokenizer turns them back into text (up to `[END]`).

    A text without a word of the source vocabulary (empty, whitespace only, or only unknown words,
    such as a script absent from training) translates to the empty string: its target ids are just
    `[END]`, not a sentence the model makes up for `[START] [UNK] [END]` (`translate run` also
    warns). Every input gives exactly one output.

    Args:
        translator: a `Translator`.
        source_tokenizer: the `lstm_keras.text.Tokenizer` of the source language.
        target_tokenizer: the `lstm_keras.text.Tokenizer` of the target language.
        sampler: a sampler, its name or its config (`lstm_keras.decoding.get`).
        max_source_length: the most source ids fed to the encoder, `[START]` and `[END]`
            included (at least 3).
        name: the module name.

    Call arguments:
        texts: a list of strings (or UTF-8 bytes).
        batch_size: the most sentences translated in one call of the graph.

    Returns:
        A list of translations (strings). The graph functions: `translate(texts)` maps a
        `tf.string` `(batch,)` tensor to `{"translations": tf.string (batch,)}` (the exported
        signature); `generate(texts)` to `{"source_ids": (batch, Ts), "target_ids": (batch, T),
        "attention": (batch, T, Ts)}`.

    Example:
    >>> from lstm_keras.text import Tokenizer
    >>> source = Tokenizer.from_texts(["hola mundo", "adios"])
    >>> target = Tokenizer.from_texts(["hello world", "bye"])
    >>> model = Translator(source.vocab_size, target.vocab_size, embedding_dim=4, units=4)
    >>> module = TranslationModule(model, source, target, sampler="greedy", max_source_length=8)
    >>> module.translate(tf.constant(["hola", "", "¿qué tal?"]))["translations"].shape
    TensorShape([3])
    >>> len(module(["hola mundo", "adios"]))  # lists of strings in and out
    2
    """

    def __init__(self, translator, source_tokenizer, target_tokenizer, sampler="beam", max_source_length=64,
                 name=None):
        super().__init__(name=name)
        if max_source_length < 3:
            raise ValueError(
                f"Invalid value for argument `max_source_length`: expected an int >= 3 ([START], a token, "
                f"[END]). Received: max_source_length={max_source_length!r}"
            )
        self.translator = translator
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.sampler = decoding.get(sampler)
        self.max_source_length = int(max_source_length)
        # Graph loops are explicit (`keras.ops.while_loop`): nothing for AutoGraph to convert.
        signature = [tf.TensorSpec([None], tf.string, name="texts")]
        self.translate = tf.function(self._translate, input_signature=signature, autograph=False)
        self.generate = tf.function(self._generate, input_signature=signature, autograph=False)

    def _tokenize(self, texts):
        """The source token ids of `texts` `(batch,)`, any bytes accepted: ragged `(batch, (tokens))`."""
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        return self.source_tokenizer.tokenize(texts)  # (batch, (tokens))

    def source_coverage(self, texts):
        """For each of `texts`: `(tokens, known)`, its number of source tokens and how many the vocabulary holds.

        A text of more than `max_source_length - 2` tokens is translated from its beginning only;
        one without a known token translates to the empty string.
        """
        ids = self._tokenize(tf.constant(list(texts), dtype=tf.string))  # (batch, (tokens))
        known = tf.reduce_sum(tf.cast(ids > UNK_ID, tf.int32), axis=1)  # (batch,)
        return list(zip(ids.row_lengths().numpy().tolist(), known.numpy().tolist()))

    def source_ids(self, texts):
        """Token ids of `texts` `(batch,)` as the encoder reads them: int32 `(batch, Ts)`, right-padded."""
        ids = self._tokenize(texts)  # (batch, (tokens))
        ids = ids[:, : self.max_source_length - 2]  # (batch, (<= max_source_length - 2))
        column = tf.ones([ids.nrows(), 1], dtype=ids.dtype)  # (batch, 1)
        ids = tf.concat([column * START_ID, ids, column * END_ID], axis=1)  # (batch, (tokens + 2))
        ids = tf.cast(ids.to_tensor(default_value=0), tf.int32)  # (batch, Ts)
        # An empty batch has no columns at all: give it the two of "[START] [END]".
        return tf.pad(ids, [[0, 0], [0, tf.maximum(2 - tf.shape(ids)[1], 0)]])  # (batch, max(Ts, 2))

    def _decode(self, texts, return_attention):
        """Source ids `(batch, Ts)`, target ids `(batch, T)` and attention `(batch, T, Ts)` or None."""
        source_ids = self.source_ids(texts)  # (batch, Ts)
        target_ids, attention = self.translator.decode(source_ids, self.sampler, return_attention=return_attention)
        # No known word (only [START] [END], or [UNK]s): nothing to translate, the target is [END] alone.
        empty = tf.logical_not(tf.reduce_any(source_ids > UNK_ID, axis=1))  # (batch,)
        only_end = tf.one_hot(0, tf.shape(target_ids)[1], on_value=END_ID, off_value=0, dtype=target_ids.dtype)  # (T,)
        return source_ids, tf.where(empty[:, None], only_end[None, :], target_ids), attention

    def _generate(self, texts):
        source_ids, target_ids, attention = self._decode(texts, return_attention=True)
        return {"source_ids": source_ids, "target_ids": target_ids, "attention": attention}

    def _translate(self, texts):
        # Without the attention weights, which only `generate` returns (for plots).
        _, target_ids, _ = self._decode(texts, return_attention=False)  # (batch, T)
        return {"translations": self.target_tokenizer.detokenize(target_ids)}  # (batch,)

    def __call__(self, texts, batch_size=TRANSLATE_BATCH_SIZE):
        """Translates a list of strings (or UTF-8 bytes), `batch_size` at a time; returns a list of strings."""
        texts = list(texts)
        translations = []
        for start in range(0, len(texts), batch_size):
            batch = tf.constant(texts[start:start + batch_size], dtype=tf.string)  # (<= batch_size,)
            translations += [text.decode("utf-8") for text in self.translate(batch)["translations"].numpy()]
        return translations

    def attention_tokens(self, texts):
        """For attention plots: one `(source_tokens, target_tokens, weights)` per text.

        The tokens are strings (`[START]`/`[END]` included, no padding) and `weights` the NumPy
        matrix `(len(target_tokens), len(source_tokens))`.
        """
        outputs = self.generate(tf.constant(list(texts), dtype=tf.string))
        results = []
        for source, target, weights in zip(
            outputs["source_ids"].numpy(), outputs["target_ids"].numpy(), outputs["attention"].numpy()
        ):
            source = source[source != 0]
            length = int(target.tolist().index(END_ID) + 1) if END_ID in target else int((target != 0).sum())
            target = target[:length]
            source_tokens = [t.decode("utf-8") for t in self.source_tokenizer.lookup(source).numpy()]
            target_tokens = [t.decode("utf-8") for t in self.target_tokenizer.lookup(target).numpy()]
            results.append((source_tokens, target_tokens, weights[:length, : len(source)]))
        return results

    def get_config(self):
        """The settings saved beside the model (`translation.json`)."""
        return {
            "source_tokenizer": self.source_tokenizer.get_config(),
            "target_tokenizer": self.target_tokenizer.get_config(),
            "sampler": decoding.serialize(self.sampler),
            "max_source_length": self.max_source_length,
        }


def export_saved_model(module, path):
    """Writes `module` as a SavedModel at `path` (atomically), with the `translate` signature.

    The signature maps `texts` (`tf.string` `(batch,)`) to `{"translations": tf.string (batch,)}`;
    the loaded object also has `translate(texts)` as a function.
    """
    write_saved_model(
        path, [module.translator, module.source_tokenizer, module.target_tokenizer], {SIGNATURE: module.translate}
    )


# Decoding-state entries that every step changes (the others are the encoder's, fixed per sentence).
CARRIED_STATE = ("lstm", "feed")


def flat_decoding_state(state):
    """The decoding state (`Translator.initial_decoding_state`) as named tensors: `lstm_<i>`, then its other keys."""
    flat = {f"lstm_{i}": value for i, value in enumerate(state["lstm"])}
    flat.update({key: value for key, value in state.items() if key != "lstm"})
    return flat


def nested_decoding_state(flat):
    """The inverse of `flat_decoding_state`."""
    lstm = [flat[f"lstm_{i}"] for i in range(sum(key.startswith("lstm_") for key in flat))]
    return {"lstm": lstm, **{key: value for key, value in flat.items() if not key.startswith("lstm_")}}


def export_portable(module, path, format, overwrite=False):
    """Writes the translator's `encode` and `decode_step` as LiteRT or ONNX, its tokenizers beside (`write_export`).

    Returns:
        The export's summary (`write_export`).
    """
    translator = module.translator
    batch = 1 if format == "tflite" else None
    example = flat_decoding_state(translator.initial_decoding_state(tf.constant([[START_ID, END_ID]])))
    names = list(example)
    per_sentence = ("encoder_outputs", "source_mask", "keys")  # their dimension 1 is the source length
    state_specs = [tf.TensorSpec([batch, *([None] if name in per_sentence else []), *value.shape[2 if name in
                                  per_sentence else 1:]], value.dtype, name=name) for name, value in example.items()]

    def encode(source_ids):
        state = flat_decoding_state(translator.initial_decoding_state(source_ids))
        return {**state, "max_new_tokens": translator.generation_limits(source_ids)}

    def decode_step(token, *state):
        logits, state, _ = translator.decode_step(token, nested_decoding_state(dict(zip(names, state))))
        flat = flat_decoding_state(state)
        carried = {f"next_{name}": flat[name] for name in names if name.split("_")[0] in CARRIED_STATE}
        return {"logits": logits, **carried}

    functions = {
        "encode": tf.function(encode, input_signature=[tf.TensorSpec([batch, None], tf.int32, name="source_ids")]),
        "decode_step": tf.function(
            decode_step, input_signature=[tf.TensorSpec([batch], tf.int32, name="token"), *state_specs]),
    }
    sources = random_token_ids(translator.source_vocabulary_size, (3, 8), batch or 3)
    checks = {"encode": [(ids,) for ids in sources], "decode_step": []}
    rng = np.random.default_rng(1)
    for ids in sources:
        state = {name: value.numpy() for name, value in encode(tf.constant(ids)).items() if name in names}
        tokens = rng.integers(START_ID, translator.target_vocabulary_size, size=ids.shape[0]).astype("int32")
        checks["decode_step"].append((tokens, *state.values()))
    tokenizers = {"source_tokenizer": (module.source_tokenizer.get_config(), module.source_tokenizer.vocabulary),
                  "target_tokenizer": (module.target_tokenizer.get_config(), module.target_tokenizer.vocabulary)}
    details = {"task": "translate", "pad_id": 0, "start_id": START_ID, "end_id": END_ID,
               "max_source_length": module.max_source_length,
               "carried_state": [name for name in names if name.split("_")[0] in CARRIED_STATE],
               "constant_state": [name for name in names if name.split("_")[0] not in CARRIED_STATE]}
    return write_export(path, format, functions, checks, tokenizers, details, overwrite)


def export_model_folder(directory, out, format, overwrite=False):
    """Exports the translator of a `translate train` folder as a SavedModel (`out` a folder) or LiteRT / ONNX.

    Returns:
        The summary: `{"format", "files"}` for a SavedModel, `export_portable`'s for the others.
    """
    return export_loaded(lambda: load_translation_model(directory), format, out, overwrite, export_saved_model,
                         export_portable)


def save_translation_model(directory, module, extra_settings=None):
    """Writes `model.keras`, the vocabularies and `translation.json` into `directory` (each atomically)."""
    vocabularies = {SOURCE_VOCABULARY_FILE: module.source_tokenizer, TARGET_VOCABULARY_FILE: module.target_tokenizer}
    save_model_folder(directory, module.translator, vocabularies, SETTINGS_FILE,
                      {**module.get_config(), **(extra_settings or {})})


def read_settings(directory):
    """The settings (`translation.json`) of a model folder written by `save_translation_model`."""
    return read_model_settings(directory, MODEL_FILES, SETTINGS_FILE, COMMAND)


def load_translation_model(directory, sampler=None):
    """Loads a model folder written by `save_translation_model` as a `TranslationModule`.

    Args:
        directory: the folder.
        sampler: None for the saved sampler, else a sampler, name or config.

    Raises:
        FileNotFoundError: the folder or one of its files is missing (the message names it).
    """
    translator, settings = load_model_folder(directory, MODEL_FILES, SETTINGS_FILE, COMMAND)
    source = Tokenizer.from_config(settings["source_tokenizer"], os.path.join(directory, SOURCE_VOCABULARY_FILE))
    target = Tokenizer.from_config(settings["target_tokenizer"], os.path.join(directory, TARGET_VOCABULARY_FILE))
    return TranslationModule(
        translator, source, target,
        sampler=settings["sampler"] if sampler is None else sampler,
        max_source_length=settings["max_source_length"],
    )
