"""`TextClassifier`: raw strings in, class probabilities out, through gated LSTMs.

The model is TensorFlow-backend only: its first layer, `keras.layers.TextVectorization`, works on
`tf.string` tensors.
"""

import keras
import numpy as np
import tensorflow as tf

from lstm_keras.distribute import DistributedFitMixin
from lstm_keras.layers.attention_pooling import AttentionPooling
from lstm_keras.layers.bigram_bag import BigramBag
from lstm_keras.layers.cells import recurrent_layer
from lstm_keras.layers.gating import gating_options
from lstm_keras.layers.masked_global_max_pooling1d import MaskedGlobalMaxPooling1D
from lstm_keras.text.text_standardizer import TextStandardizer
from lstm_keras.text.unicode_script_splitter import UnicodeScriptSplitter

HEADS = ("binary", "multi_class", "multi_label")
TOKENIZERS = ("whitespace", "unicode_script")
POOLINGS = ("last", "max", "mean", "attention")
PREDICT_BATCH_SIZE = 256


class ClassProbabilitiesMixin:
    """`num_classes` and `predict_proba` for a Keras model of raw strings with `label_names` and `head`.

    Shared by `TextClassifier` and `ClassifierEnsemble`, whose outputs are `(batch, 1)` for a
    "binary" head and `(batch, C)` otherwise.
    """

    @property
    def num_classes(self):
        return len(self.label_names)

    def predict_proba(self, texts, batch_size=PREDICT_BATCH_SIZE):
        """Class probabilities `(len(texts), num_classes)` for raw texts (str or bytes)."""
        dataset = tf.data.Dataset.from_tensor_slices(as_string_tensor(texts)).batch(batch_size)
        probabilities = self.predict(dataset, verbose=0)  # (n, 1) or (n, C)
        if self.head == "binary":
            probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=-1)  # (n, 2)
        return probabilities


@keras.saving.register_keras_serializable(package="lstm_keras")
class TextClassifier(ClassProbabilitiesMixin, DistributedFitMixin, keras.Model):
    """A text classifier: vectoriser, masked embedding, (bidirectional) gated LSTMs, pooling, head.

    The model takes raw strings `(batch,)` and returns probabilities:

        texts (batch,)                       raw strings; invalid UTF-8 is repaired, never fatal
        -> TextStandardizer                   lowercase, strip punctuation, stop words, truncate
        -> TextVectorization  (batch, T)      split on whitespace, or by TensorFlow Text's
                                              UnicodeScriptTokenizer (tokenizer="unicode_script");
                                              T = the longest text of the batch, <= max_length;
                                              0 = padding, 1 = "[UNK]" (unseen words)
        -> Embedding(mask_zero=True)  (batch, T, embedding_dim)
        -> word dropout, Dropout              whole tokens, then single features (training only)
        -> num_layers x [Bidirectional] recurrent layer (cell, gating)  (batch, T, [2 *] units)
        -> pooling  (batch, [2 *] units)      last step / masked max / masked mean / attention
        [+ BigramBag of the ids (batch, embedding_dim), concatenated, with bigram_buckets > 0]
        -> Dropout -> Dense                   (batch, 1) sigmoid for "binary",
                                              (batch, C) softmax for "multi_class",
                                              (batch, C) sigmoid for "multi_label"

    Truncation: a text longer than `max_length` tokens (counted after standardisation and
    splitting, unseen words included) keeps its first `max_length` tokens (`truncation="post"`)
    or its last ones (`"pre"`). An empty or whitespace-only text (or one left empty by
    standardisation) becomes a single unknown word, so every text gets a prediction.

    The vocabulary is learned with `adapt(texts)` (before training) and saved with the model.
    `compile()` has defaults: Adam with gradient clipping (`clipnorm=1.0`), the loss and the
    accuracy metric that fit the head. `predict_proba` returns `(batch, C)` probabilities for
    every head (`[1 - p, p]` for "binary").

    Args:
        label_names: list of the class names (at least 2), in label-index order.
        head: `"binary"` (one sigmoid unit; two classes only), `"multi_class"` (softmax) or
            `"multi_label"` (one sigmoid per class, labels are multi-hot); None for "binary"
            with two classes and "multi_class" otherwise.
        vocabulary_size: the most tokens the vectoriser keeps, padding and "[UNK]" included.
        max_length: the most tokens of a text the model reads (see truncation above).
        truncation: `"post"` (keep the first `max_length` tokens) or `"pre"` (keep the last).
        lowercase: whether to lowercase the texts.
        strip_punctuation: whether to strip punctuation and symbols.
        stop_words: None or a list of words to remove (in standardised form).
        tokenizer: how a standardised text becomes tokens: `"whitespace"` (Keras'
            `TextVectorization` split) or `"unicode_script"` (TensorFlow Text's
            `UnicodeScriptTokenizer`, see `UnicodeScriptSplitter`: punctuation and changes of
            script split words too, which matters when `strip_punctuation=False` and for text
            that mixes scripts; its SavedModel needs `import tensorflow_text` to serve).
        embedding_dim: the size of the token embeddings.
        embedding_trainable: whether the embeddings are trained (False to keep pretrained
            vectors fixed).
        gating: the gating of every LSTM layer: None (vanilla), a preset of
            `lstm_keras.layers.VARIANTS` (e.g. `"cifg"`) or a dict of `GatedLSTM` options; with
            `cell="lstm"` only.
        cell: the recurrent cell, a name of `lstm_keras.layers.cells.CELLS` (`"lstm"`, `"slstm"`,
            `"mlstm"`, `"minlstm"`, `"mingru"`, `"xlstm[A:B]"`); every cell runs bidirectional.
        units: the units of each LSTM layer (of each direction when bidirectional).
        num_layers: the number of stacked LSTM layers.
        bidirectional: whether each LSTM layer reads both directions (outputs concatenated).
        lstm_options: None or a dict of further `GatedLSTM` options (e.g. `{"dropout": 0.1}`,
            `{"peepholes": True}`), applied to every LSTM layer.
        pooling: how the LSTM outputs become one vector: `"last"` (the final state of each
            direction), `"max"` or `"mean"` (over the real tokens) or `"attention"`
            (`AttentionPooling`; see `attention_weights`).
        attention_units: the hidden size of the attention pooling (None: the LSTM output size).
        dropout: the dropout rate on the embeddings and on the pooled vector.
        word_dropout: the rate at which whole tokens are dropped in training (Iyyer et al. 2015's
            word dropout: a dropped token's embedding becomes zeros, the others are scaled by
            `1 / (1 - word_dropout)`), so the model cannot lean on a few words.
        bigram_buckets: 0, or the hash buckets of a fastText-style bag of word bigrams
            (`lstm_keras.layers.BigramBag`, vectors of `embedding_dim`) whose mean joins the
            pooled LSTM features: local word order ("not good") at the cost of a lookup.
        **kwargs: `keras.Model` keyword arguments (e.g. `name`).

    Example:
    >>> classifier = TextClassifier(["negative", "positive"], vocabulary_size=50, embedding_dim=8, units=4)
    >>> classifier.adapt(["a good film", "a bad film"])
    >>> classifier.predict_proba(["a good film", "", "never seen words"]).shape
    (3, 2)
    >>> classifier.head, classifier.output_shape
    ('binary', (None, 1))
    """

    def __init__(
        self,
        label_names,
        head=None,
        vocabulary_size=20000,
        max_length=256,
        truncation="post",
        lowercase=True,
        strip_punctuation=True,
        stop_words=None,
        tokenizer="whitespace",
        embedding_dim=128,
        embedding_trainable=True,
        gating="vanilla",
        cell="lstm",
        units=64,
        num_layers=1,
        bidirectional=False,
        lstm_options=None,
        pooling="last",
        attention_units=None,
        dropout=0.2,
        word_dropout=0.0,
        bigram_buckets=0,
        **kwargs,
    ):
        label_names = [str(name) for name in label_names]
        head = _check_arguments(label_names, head, tokenizer, pooling, num_layers, vocabulary_size, dropout, word_dropout)
        lstm_options = dict(lstm_options or {})

        # === Layers ===
        self.standardizer = TextStandardizer(
            lowercase=lowercase,
            strip_punctuation=strip_punctuation,
            stop_words=stop_words,
            # With another tokenizer than whitespace, the splitter counts and truncates the tokens.
            max_length=max_length if tokenizer == "whitespace" else None,
            truncation=truncation,
        )
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=vocabulary_size,
            standardize=self.standardizer,
            split="whitespace" if tokenizer == "whitespace" else UnicodeScriptSplitter(max_length, truncation),
            output_mode="int",
            name="vectorizer",
        )
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, trainable=embedding_trainable, name="token_embedding"
        )
        # One draw per token, shared by its features: the noise shape (batch, T, 1).
        self.word_dropout_layer = keras.layers.Dropout(word_dropout, noise_shape=(None, None, 1), name="word_dropout")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        if lstm_options and cell != "lstm":
            raise ValueError(
                f"Invalid combination: lstm_options={lstm_options!r} with cell={cell!r}; lstm_options are GatedLSTM "
                "options, for cell='lstm' only."
            )
        self.lstm_layers = []
        for index in range(num_layers):
            # The last layer returns only its final state when the pooling is "last".
            return_sequences = pooling != "last" or index < num_layers - 1
            lstm = recurrent_layer(
                cell, units, {**gating_options(gating), **lstm_options} if cell == "lstm" else gating, index=index,
                return_sequences=return_sequences, name=f"lstm_{index + 1}",
            )
            if bidirectional:
                lstm = keras.layers.Bidirectional(lstm, name=f"bidirectional_lstm_{index + 1}")
            self.lstm_layers.append(lstm)
        poolings = {
            "max": lambda: MaskedGlobalMaxPooling1D(name="max_pooling"),
            "mean": lambda: keras.layers.GlobalAveragePooling1D(name="mean_pooling"),
            "attention": lambda: AttentionPooling(units=attention_units, name="attention_pooling"),
        }
        # "last" needs no layer: the last LSTM layer returns its final state.
        self.pooling_layer = poolings[pooling]() if pooling in poolings else None
        self.bigram_bag = BigramBag(bigram_buckets, embedding_dim, name="bigram_bag") if bigram_buckets else None
        self.feature_dropout = keras.layers.Dropout(dropout, name="feature_dropout")
        self.output_dense = keras.layers.Dense(
            1 if head == "binary" else len(label_names),
            activation="softmax" if head == "multi_class" else "sigmoid",
            dtype="float32",
            name="predictions",
        )

        # === Functional model ===
        texts = keras.Input(shape=(), dtype="string", name="texts")
        token_ids = self.vectorizer(texts)  # (batch, T), T <= max_length
        x = self.token_embedding(token_ids)  # (batch, T, embedding_dim)
        x = self.word_dropout_layer(x)
        x = self.embedding_dropout(x)
        for lstm in self.lstm_layers:
            x = lstm(x)  # (batch, T, [2 *] units); the last one (batch, [2 *] units) for "last"
        weights = None
        if pooling == "attention":
            x, weights = self.pooling_layer(x, return_attention_scores=True)  # (batch, [2 *] units), (batch, T)
        elif self.pooling_layer is not None:
            x = self.pooling_layer(x)  # (batch, [2 *] units)
        if self.bigram_bag is not None:
            x = keras.layers.Concatenate(name="with_bigrams")([x, self.bigram_bag(token_ids)])  # (batch, F + E)
        x = self.feature_dropout(x)
        outputs = self.output_dense(x)  # (batch, 1) or (batch, C)
        super().__init__(inputs=texts, outputs=outputs, **kwargs)

        # === Config ===
        self.label_names = label_names
        self.head = head
        self.vocabulary_size = vocabulary_size
        self.max_length = max_length
        self.truncation = truncation
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self.stop_words = self.standardizer.stop_words
        self.tokenizer = tokenizer
        self.embedding_dim = embedding_dim
        self.embedding_trainable = embedding_trainable
        self.gating = gating
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.lstm_options = lstm_options
        self.pooling = pooling
        self.attention_units = attention_units
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.bigram_buckets = bigram_buckets
        # Symbolic tensors for `attention_weights` (not layers: nothing to track or save).
        self._explain_outputs = (token_ids, weights) if weights is not None else None

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", learning_rate=1e-3, clipnorm=1.0, **kwargs):
        """Configures training, with defaults that fit the head.

        Args:
            optimizer: `"auto"` for `Adam(learning_rate, clipnorm=clipnorm)`, or any Keras optimizer.
            loss: `"auto"` for binary cross-entropy ("binary", "multi_label") or sparse categorical
                cross-entropy ("multi_class", integer labels), or any Keras loss.
            metrics: `"auto"` for accuracy (named `"accuracy"` for every head), or a list.
            learning_rate: the learning rate of the `"auto"` optimizer.
            clipnorm: gradient clipping (by norm, per variable) of the `"auto"` optimizer; None
                for none.
            **kwargs: further `keras.Model.compile` arguments (`jit_compile` defaults to False:
                string ops do not compile with XLA).
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
        if loss == "auto":
            loss = "sparse_categorical_crossentropy" if self.head == "multi_class" else "binary_crossentropy"
        if metrics == "auto":
            accuracy = keras.metrics.SparseCategoricalAccuracy if self.head == "multi_class" else keras.metrics.BinaryAccuracy
            metrics = [accuracy(name="accuracy")]
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # What `keras.Model.compile_from_config` does, which skips models with their own `compile`.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def layer_groups(self):
        """The layers' names in groups for discriminative fine-tuning (`lstm_keras.fine_tuning`), top first.

        The head (pooling weights and output layer), then each recurrent layer from the last to
        the first, then the embedding.

        Example:
        >>> TextClassifier(["neg", "pos"], num_layers=2, pooling="attention").layer_groups()
        [['attention_pooling', 'predictions'], ['lstm_2'], ['lstm_1'], ['token_embedding']]
        """
        body = [self.token_embedding.name, *(layer.name for layer in self.lstm_layers)]
        head = [layer.name for layer in self.layers if layer.weights and layer.name not in body
                and layer is not self.vectorizer]
        return [head, *([name] for name in reversed(body))]

    def adapt(self, texts, batch_size=1024):
        """Learns the vocabulary (the `vocabulary_size - 2` most frequent tokens) from `texts`."""
        dataset = tf.data.Dataset.from_tensor_slices(as_string_tensor(texts)).batch(batch_size)
        self.vectorizer.adapt(dataset)

    @property
    def vocabulary(self):
        """The vocabulary: index 0 is padding (`""`), 1 is `"[UNK]"`."""
        return [str(token) for token in self.vectorizer.get_vocabulary()]

    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary directly (a list of tokens, without padding and `"[UNK]"`)."""
        self.vectorizer.set_vocabulary([token for token in vocabulary if token not in ("", "[UNK]")])

    def load_embeddings(self, path):
        """Initialises the embeddings from pretrained vectors in the GloVe or word2vec text format.

        Each line is a word followed by its vector; a first line of two integers (the word2vec
        header, "count dim") is skipped. A vocabulary token is looked up as it is, then
        lowercased. Tokens without a vector keep their initial (random) embedding; the padding
        row becomes zeros.

        Args:
            path: the vectors file (UTF-8; invalid bytes are replaced).

        Returns:
            A dict: `found` (tokens with a vector), `vocabulary` (tokens looked up: the vocabulary
            without padding and "[UNK]") and `oov_rate` (the share of those without a vector).

        Raises:
            ValueError: the vectors' size is not `embedding_dim`, the vocabulary is empty, or no
                token of the vocabulary has a vector (an empty file, another language).
            FileNotFoundError: `path` does not exist.
        """
        tokens = self.vocabulary[2:]
        if not tokens:
            raise ValueError("load_embeddings: the vocabulary is empty; call adapt(texts) first")
        vectors = _read_word_vectors(path, set(tokens) | {t.lower() for t in tokens}, self.embedding_dim)
        if not vectors:
            raise ValueError(f"{path} has a vector for none of the {len(tokens)} words of the vocabulary: is it empty, "
                             "or for another language or tokenisation?")
        matrix = np.array(self.token_embedding.embeddings)  # (vocabulary_size, embedding_dim)
        matrix[0] = 0.0
        found = 0
        for index, token in enumerate(tokens, start=2):
            vector = vectors.get(token, vectors.get(token.lower()))
            if vector is not None:
                matrix[index] = vector
                found += 1
        self.token_embedding.embeddings.assign(matrix)
        return {"found": found, "vocabulary": len(tokens), "oov_rate": 1.0 - found / len(tokens)}

    def attention_weights(self, texts):
        """The attention pooling's weights over the tokens of each text, for display.

        Args:
            texts: a list of raw texts.

        Returns:
            A list, one per text, of `(tokens, weights)`: the tokens the model read (unseen words
            as "[UNK]") and their weights, which sum to 1.

        Raises:
            ValueError: the classifier's pooling is not "attention".
        """
        if self._explain_outputs is None:
            raise ValueError(f"attention_weights needs pooling='attention'; this classifier has pooling={self.pooling!r}")
        explainer = keras.Model(self.inputs, list(self._explain_outputs))
        token_ids, weights = explainer(as_string_tensor(texts))
        vocabulary = self.vocabulary
        results = []
        for ids, row in zip(np.array(token_ids), np.array(weights)):
            length = int(np.count_nonzero(ids))
            results.append(([vocabulary[i] for i in ids[:length]], row[:length]))
        return results

    def get_config(self):
        # Not chained to super(): a functional model's config is a graph, not constructor arguments.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "label_names": self.label_names,
            "head": self.head,
            "vocabulary_size": self.vocabulary_size,
            "max_length": self.max_length,
            "truncation": self.truncation,
            "lowercase": self.lowercase,
            "strip_punctuation": self.strip_punctuation,
            "stop_words": self.stop_words,
            "tokenizer": self.tokenizer,
            "embedding_dim": self.embedding_dim,
            "embedding_trainable": self.embedding_trainable,
            "gating": self.gating,
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "lstm_options": self.lstm_options,
            "pooling": self.pooling,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
            "word_dropout": self.word_dropout,
            "bigram_buckets": self.bigram_buckets,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_arguments(label_names, head, tokenizer, pooling, num_layers, vocabulary_size, dropout, word_dropout):
    """Validates the choices up front; returns the resolved head."""
    if len(label_names) < 2 or len(set(label_names)) != len(label_names):
        raise ValueError(
            f"Invalid value for argument `label_names` of TextClassifier: expected at least two distinct "
            f"names. Received: label_names={label_names!r}"
        )
    if head is None:
        head = "binary" if len(label_names) == 2 else "multi_class"
    if head not in HEADS:
        raise ValueError(f"Invalid value for argument `head` of TextClassifier: expected one of {HEADS}. Received: head={head!r}")
    if head == "binary" and len(label_names) != 2:
        raise ValueError(
            f"Invalid value for argument `head` of TextClassifier: 'binary' needs exactly two label names; "
            f"received {len(label_names)}. Use head='multi_class' or 'multi_label'."
        )
    if tokenizer not in TOKENIZERS:
        raise ValueError(
            f"Invalid value for argument `tokenizer` of TextClassifier: expected one of {TOKENIZERS}. "
            f"Received: tokenizer={tokenizer!r}"
        )
    if pooling not in POOLINGS:
        raise ValueError(
            f"Invalid value for argument `pooling` of TextClassifier: expected one of {POOLINGS}. "
            f"Received: pooling={pooling!r}"
        )
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(
            f"Invalid value for argument `num_layers` of TextClassifier: expected a positive int. "
            f"Received: num_layers={num_layers!r}"
        )
    if not isinstance(vocabulary_size, int) or vocabulary_size < 3:
        raise ValueError(
            f"Invalid value for argument `vocabulary_size` of TextClassifier: expected an int >= 3 "
            f"(padding, '[UNK]' and at least one word). Received: vocabulary_size={vocabulary_size!r}"
        )
    for name, rate in (("dropout", dropout), ("word_dropout", word_dropout)):
        if not 0 <= rate < 1:
            raise ValueError(
                f"Invalid value for argument `{name}` of TextClassifier: expected a rate in [0, 1). "
                f"Received: {name}={rate!r}"
            )
    return head


def as_string_tensor(texts):
    """A 1-D `tf.string` tensor from a list of texts: str (encoded as UTF-8) or bytes (kept as they are).

    Example:
    >>> as_string_tensor(["café", b"\\xff"]).numpy().tolist()
    [b'caf\\xc3\\xa9', b'\\xff']
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a list of texts, not a single text")
    if isinstance(texts, tf.Tensor):
        return texts
    return tf.constant([t if isinstance(t, bytes) else str(t).encode("utf-8", "replace") for t in texts], dtype=tf.string)


def _read_word_vectors(path, words, dim):
    """`{word: vector}` for the `words` found in a GloVe / word2vec text file of `dim`-sized vectors."""
    vectors = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(field.isdigit() for field in fields):
                continue  # the word2vec header: "count dim"
            if len(fields) < 2:
                continue
            if len(fields) - 1 != dim:
                raise ValueError(
                    f"{path}, line {number}: a vector of size {len(fields) - 1}, but the classifier's "
                    f"embedding_dim is {dim}"
                )
            if fields[0] in words and fields[0] not in vectors:
                vectors[fields[0]] = np.asarray(fields[1:], dtype="float32")
    return vectors
