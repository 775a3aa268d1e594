"""Fine-tuning a pretrained model the ULMFiT way (Howard & Ruder 2018, "Universal Language Model Fine-tuning for Text Classification").

Three pieces, each usable alone, that the paper found to matter when a pretrained network is
fine-tuned on little labelled data:

- **Discriminative learning rates** (`LayerwiseAdam`): the layers form groups, the top one
  (the new classifier head) first; group `g` steps with `learning_rate / decay**g`
  (the paper: `decay = 2.6`), so the lower, more general layers change least.
- **Gradual unfreezing** (`GradualUnfreezing`): in epoch `e` (from 0) only groups `0..e` learn;
  one more group joins at each epoch, until all do.
- **Slanted triangular learning rates** (`SlantedTriangular`): a short linear warm-up to the
  peak over `cut_fraction` of the steps, then a long linear decay to `peak / ratio`.

Example:
>>> import keras
>>> inputs = keras.Input((3,))
>>> hidden = keras.layers.Dense(4, name="body")(inputs)
>>> model = keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))
>>> optimizer = LayerwiseAdam([["head"], ["body"]], learning_rate=SlantedTriangular(0.01, 100))
>>> model.compile(optimizer=optimizer, loss="mse")
>>> optimizer.build(model.trainable_variables)
>>> optimizer.unfreeze(1)  # what GradualUnfreezing does before the first epoch
>>> [round(float(f), 4) for f in optimizer.group_factors()]
[1.0, 0.0]
>>> optimizer.unfreeze(2)
>>> [round(float(f), 4) for f in optimizer.group_factors()]
[1.0, 0.3846]
"""

import keras
from keras import ops

# The paper's ratio between the learning rates of neighbouring layer groups.
DECAY = 2.6
# The paper's share of the steps spent rising, and ratio of the peak to the lowest rate.
CUT_FRACTION = 0.1
RATIO = 32


@keras.saving.register_keras_serializable(package="lstm_keras")
class SlantedTriangular(keras.optimizers.schedules.LearningRateSchedule):
    """The slanted triangular learning rate (ULMFiT, eq. 3): a short rise, a long fall.

    With `T = total_steps`, `cut = floor(T * cut_fraction)` and step `t` (from 0):

        p = t / cut                                   if t < cut
            1 - (t - cut) / (cut * (1 / cut_fraction - 1))   otherwise
        lr = peak * (1 + p * (ratio - 1)) / ratio

    Steps past `T` keep the last rate (`p` is clipped at 0).

    Args:
        peak: the highest learning rate, reached at step `cut`.
        total_steps: the steps of the whole schedule, at least 1.
        cut_fraction: the share of the steps spent rising.
        ratio: the peak over the lowest rate.

    Example:
    >>> schedule = SlantedTriangular(0.01, total_steps=100)
    >>> [round(float(schedule(t)), 6) for t in (0, 10, 55, 100)]
    [0.000312, 0.01, 0.005156, 0.000312]
    """

    def __init__(self, peak, total_steps, cut_fraction=CUT_FRACTION, ratio=RATIO):
        if total_steps < 1:
            raise ValueError(f"SlantedTriangular needs total_steps >= 1, received {total_steps!r}")
        if not 0 < cut_fraction < 1:
            raise ValueError(f"SlantedTriangular needs cut_fraction in (0, 1), received {cut_fraction!r}")
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.cut_fraction = float(cut_fraction)
        self.ratio = float(ratio)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        cut = float(max(1, int(self.total_steps * self.cut_fraction)))
        rising = step / cut
        falling = 1.0 - (step - cut) / (cut * (1.0 / self.cut_fraction - 1.0))
        p = ops.clip(ops.where(step < cut, rising, falling), 0.0, 1.0)
        return self.peak * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "cut_fraction": self.cut_fraction,
                "ratio": self.ratio}


@keras.saving.register_keras_serializable(package="lstm_keras")
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam with a learning rate per group of layers (discriminative rates) and frozen groups.

    A variable belongs to the group that names the first part of its path (its layer's name);
    variables of layers no group names belong to group 0. Group `g` steps with the learning rate
    times `decay**-g` while it is unfrozen, and times 0 while it is frozen: its gradients are
    still computed and its moments kept, so the model compiles once and the groups' state carries
    over when they join. `unfreeze(n)` lets groups `0..n-1` learn (all of them at first).

    Args:
        groups: lists of layer names, the top group (the one that learns fastest) first.
        decay: the ratio between the rates of neighbouring groups (the paper's 2.6).
        **kwargs: `keras.optimizers.Adam`'s arguments (`learning_rate` may be a schedule such as
            `SlantedTriangular`).
    """

    def __init__(self, groups, decay=DECAY, **kwargs):
        super().__init__(**kwargs)
        self.groups = [list(names) for names in groups]
        self.decay = float(decay)
        self._group_of = {name: index for index, names in enumerate(self.groups) for name in names}
        self._unfrozen_at_build = len(self.groups)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Each variable's group, in the optimizer's order of variables (a step sees the backend's variable).
        self._variable_groups = [self._group_of.get(v.path.split("/")[0], 0) for v in variables]
        # An optimizer variable, so that a jitted step (JAX) reads it as state, not as a constant.
        self._unfrozen = self.add_variable(
            (), initializer=keras.initializers.Constant(self._unfrozen_at_build), dtype="int32",
            name="unfrozen_groups",
        )

    def unfreeze(self, count):
        """Lets the top `count` groups learn (the others are frozen)."""
        count = min(int(count), len(self.groups))
        if self.built:
            self._unfrozen.assign(count)
        else:
            self._unfrozen_at_build = count

    def group_factors(self):
        """The factor of each group's learning rate now, a `(len(groups),)` tensor."""
        index = ops.arange(len(self.groups), dtype="float32")  # (G,)
        learning = ops.cast(ops.less(index, ops.cast(self._unfrozen, "float32")), "float32")
        return learning * ops.power(self.decay, -index)

    def update_step(self, gradient, variable, learning_rate):
        group = self._variable_groups[self._get_variable_index(variable)]
        factor = ops.cast(self.group_factors()[group], variable.dtype)
        return super().update_step(gradient, variable, ops.cast(learning_rate, variable.dtype) * factor)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "decay": self.decay}


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes one more group of a `LayerwiseAdam` at each epoch: in epoch `e`, groups `0..e` learn.

    Args:
        optimizer: the model's `LayerwiseAdam`.
    """

    def __init__(self, optimizer):
        super().__init__()
        self.optimizer = optimizer

    def on_epoch_begin(self, epoch, logs=None):
        self.optimizer.unfreeze(epoch + 1)

    def on_train_end(self, logs=None):
        self.optimizer.unfreeze(len(self.optimizer.groups))
