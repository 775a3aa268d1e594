"""Generated short stories with a question, its answer and its supporting sentences (bAbI-style).

The stories are made by this project, in the spirit of the bAbI tasks (Weston et al. 2015,
"Towards AI-Complete Question Answering"): people move between rooms and pick up and drop
objects, one event a sentence, and a question asks about the state of the world at the end.

| task | example | answer | supporting sentences |
|---|---|---|---|
| `"single_supporting_fact"` | Mary went to the kitchen. John moved to the garden. Where is Mary? | kitchen | the last move of Mary |
| `"two_supporting_facts"` | Mary picked up the football. Mary went to the office. Where is the football? | office | the pick-up of the object and the last move of its holder |
| `"yes_no"` | Sandra travelled to the hallway. Is Sandra in the hallway? | yes | the last move of the person |

The rules of the world: a person's location is the room of their last move; a person picks an
object up only once their location is known, and holds it until they drop it; an object that
is held is where its holder is. A question is asked only about a person who has moved (or an
object that is held at the end), so every answer follows from the sentences. `supporting`
lists the indices of the sentences the answer rests on, in story order; the sentence that
names the answer's room (or, for yes/no, the room the person is in) is one of them.

The generator draws only `random.Random(seed).random()` floats, a sequence Python guarantees
across versions, so the same arguments always give the same stories. `vectorize_stories` turns
stories into the integer arrays `StoryReader` (`lstm_keras.models.question_answering.story_reader`) reads.
"""

import dataclasses
import random
import re

import numpy as np

TASKS = ("single_supporting_fact", "two_supporting_facts", "yes_no")
PEOPLE = ("Mary", "John", "Sandra", "Daniel")
LOCATIONS = ("kitchen", "garden", "hallway", "bathroom", "bedroom", "office")
OBJECTS = ("football", "apple", "milk")
MOVE_VERBS = ("went to", "moved to", "journeyed to", "travelled to")
PICK_UP_VERBS = ("picked up", "got", "grabbed", "took")
DROP_VERBS = ("dropped", "discarded", "put down", "left")

PAD, UNKNOWN = "", "[UNK]"


@dataclasses.dataclass(frozen=True)
class Story:
    """One story: its sentences, a question, the answer and the supporting sentence indices.

    Args:
        sentences: a tuple of sentences, each ending with ".".
        question: the question, ending with "?".
        answer: one word: a room, or "yes" / "no".
        supporting: the indices (into `sentences`) of the sentences the answer rests on, in
            story order.
        task: the task that made the story, one of `TASKS`.

    Example:
    >>> story = Story(("Mary went to the kitchen.",), "Where is Mary?", "kitchen", (0,), "single_supporting_fact")
    >>> print(story)
    1 Mary went to the kitchen.
    Q Where is Mary?  A kitchen  (supporting: 1)
    """

    sentences: tuple
    question: str
    answer: str
    supporting: tuple
    task: str

    def __str__(self):
        lines = [f"{k + 1} {sentence}" for k, sentence in enumerate(self.sentences)]
        support = ", ".join(str(k + 1) for k in self.supporting)
        lines.append(f"Q {self.question}  A {self.answer}  (supporting: {support})")
        return "\n".join(lines)


def _pick(rng, items):
    """One item of `items`, drawn with `rng.random()` only (stable across Python versions)."""
    return items[int(rng.random() * len(items))]


def _count(rng, low, high):
    """An int in [low, high], drawn with `rng.random()` only."""
    return low + int(rng.random() * (high - low + 1))


def _move(rng, person, location):
    return f"{person} {_pick(rng, MOVE_VERBS)} the {location}."


def _single_supporting_fact(rng, length):
    """People move; the question asks where one of them is."""
    sentences, last_move = [], {}
    for index in range(length):
        person, location = _pick(rng, PEOPLE), _pick(rng, LOCATIONS)
        sentences.append(_move(rng, person, location))
        last_move[person] = (index, location)
    person = _pick(rng, sorted(last_move))
    index, location = last_move[person]
    return Story(tuple(sentences), f"Where is {person}?", location, (index,), "single_supporting_fact")


def _yes_no(rng, length):
    """People move; the question asks whether one of them is in a given room (yes half the time)."""
    story = _single_supporting_fact(rng, length)
    person = story.question[len("Where is "):-1]
    if rng.random() < 0.5:
        asked, answer = story.answer, "yes"
    else:
        asked, answer = _pick(rng, [room for room in LOCATIONS if room != story.answer]), "no"
    return Story(story.sentences, f"Is {person} in the {asked}?", answer, story.supporting, "yes_no")


def _two_supporting_facts(rng, length):
    """People move, pick up and drop objects; the question asks where a held object is."""
    sentences, holder, picked_at, last_move = _world_events(rng, length)
    thing = _pick(rng, sorted(thing for thing, person in holder.items() if person is not None))
    person = holder[thing]
    move_index, location = last_move[person]
    supporting = tuple(sorted((picked_at[thing], move_index)))
    return Story(tuple(sentences), f"Where is the {thing}?", location, supporting, "two_supporting_facts")


def _world_events(rng, length):
    """`length` (at least 2) sentences of moves, pick-ups and drops that follow the rules of the world.

    The first sentence is a move (nobody can pick anything up before being somewhere); the last
    is never a drop, and is a pick-up when nothing is held, so at least one object is held at the
    end.

    Returns:
        `(sentences, holder, picked_at, last_move)`: the sentences; for each object its holder
        (or None); for each held object the index of the sentence where its holder took it; for
        each person who moved, `(index, room)` of their last move.
    """
    sentences, holder, picked_at, last_move = [], {thing: None for thing in OBJECTS}, {}, {}
    for index in range(length):
        free = [thing for thing in OBJECTS if holder[thing] is None]
        carriers = sorted({person for person in holder.values() if person is not None})
        placed = sorted(last_move)
        draw = rng.random()
        last = index == length - 1
        if placed and free and (draw < 0.3 or (last and not carriers)):
            person, thing = _pick(rng, placed), _pick(rng, free)
            sentences.append(f"{person} {_pick(rng, PICK_UP_VERBS)} the {thing}.")
            holder[thing], picked_at[thing] = person, index
        elif carriers and draw < 0.4 and not last:
            person = _pick(rng, carriers)
            thing = _pick(rng, sorted(thing for thing, p in holder.items() if p == person))
            sentences.append(f"{person} {_pick(rng, DROP_VERBS)} the {thing}.")
            holder[thing] = None
            del picked_at[thing]
        else:
            person, location = _pick(rng, PEOPLE), _pick(rng, LOCATIONS)
            sentences.append(_move(rng, person, location))
            last_move[person] = (index, location)
    return sentences, holder, picked_at, last_move


_GENERATORS = {
    "single_supporting_fact": _single_supporting_fact,
    "two_supporting_facts": _two_supporting_facts,
    "yes_no": _yes_no,
}


def generate_stories(n, tasks=TASKS, seed=0, min_sentences=2, max_sentences=10):
    """Generates `n` stories, the tasks taking turns (story `k` is of task `tasks[k % len(tasks)]`).

    Args:
        n: the number of stories.
        tasks: a task name of `TASKS` or a sequence of them.
        seed: the random seed; the same arguments always give the same stories.
        min_sentences: the fewest sentences of a story (at least 1; two-supporting-facts stories
            have at least 2).
        max_sentences: the most sentences of a story.

    Returns:
        A list of `Story`.

    Example:
    >>> stories = generate_stories(3, seed=1)
    >>> [story.task for story in stories]
    ['single_supporting_fact', 'two_supporting_facts', 'yes_no']
    >>> stories == generate_stories(3, seed=1)
    True
    """
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    unknown = [task for task in tasks if task not in TASKS]
    if not tasks or unknown:
        raise ValueError(f"Invalid value for argument `tasks`: expected names of {TASKS}. Received: tasks={tasks!r}")
    if not 1 <= min_sentences <= max_sentences:
        raise ValueError(
            f"Invalid sentence counts: expected 1 <= min_sentences <= max_sentences. "
            f"Received: min_sentences={min_sentences!r}, max_sentences={max_sentences!r}"
        )
    rng = random.Random(seed)
    stories = []
    for k in range(n):
        task = tasks[k % len(tasks)]
        low = max(min_sentences, 2) if task == "two_supporting_facts" else min_sentences
        length = _count(rng, min(low, max_sentences), max_sentences)
        stories.append(_GENERATORS[task](rng, length))
    return stories


def tokenize(text):
    """The words of a sentence or question: lowercased, punctuation dropped.

    Example:
    >>> tokenize("Where is Mary?")
    ['where', 'is', 'mary']
    """
    return re.findall(r"[a-z0-9]+", text.lower())


def build_vocabulary(stories):
    """The vocabulary of `stories`: `["", "[UNK]"]` (padding 0, unknown 1), then the sorted words.

    The answers are words of the vocabulary too, so a model answers with a vocabulary index.

    Example:
    >>> build_vocabulary([Story(("Mary went to the kitchen.",), "Where is Mary?", "kitchen", (0,), "yes_no")])
    ['', '[UNK]', 'is', 'kitchen', 'mary', 'the', 'to', 'went', 'where']
    """
    words = set()
    for story in stories:
        for text in (*story.sentences, story.question, story.answer):
            words.update(tokenize(text))
    return [PAD, UNKNOWN] + sorted(words)


@dataclasses.dataclass(repr=False)
class StoryArrays:
    """Stories as arrays, right-padded with 0.

    Args:
        story_ids: int32 `(n, max_sentences, max_words)`, one row of word ids per sentence; the
            sentences after a story's end are all 0.
        question_ids: int32 `(n, max_question_words)`.
        answer_ids: int32 `(n,)`, the vocabulary index of each answer.
        supporting: float32 `(n, max_sentences)`, 1 at the supporting sentences.
        tasks: a list of the stories' task names.
        vocabulary: the list of words (index = id).
    """

    story_ids: np.ndarray
    question_ids: np.ndarray
    answer_ids: np.ndarray
    supporting: np.ndarray
    tasks: list
    vocabulary: list

    def __len__(self):
        return len(self.answer_ids)

    def __repr__(self):
        return (f"StoryArrays(story_ids={self.story_ids.shape}, question_ids={self.question_ids.shape}, "
                f"answer_ids={self.answer_ids.shape}, vocabulary={len(self.vocabulary)} words)")

    @property
    def inputs(self):
        """`(story_ids, question_ids)`, the inputs of `StoryReader`."""
        return self.story_ids, self.question_ids


def vectorize_stories(stories, vocabulary, max_sentences=None, max_words=None, max_question_words=None):
    """Turns stories into right-padded integer arrays (`StoryArrays`).

    A story with more than `max_sentences` sentences keeps its last `max_sentences` (the
    supporting indices move with them; supporting sentences cut off are dropped). Words
    outside `vocabulary` become `[UNK]` (id 1); sentences longer than `max_words` keep their
    first `max_words` words.

    Args:
        stories: a list of `Story`.
        vocabulary: a list of words (from `build_vocabulary`), index 0 padding, 1 `[UNK]`.
        max_sentences: the sentences per story (default: the longest story).
        max_words: the words per sentence (default: the longest sentence).
        max_question_words: the words per question (default: the longest question).

    Returns:
        A `StoryArrays`.

    Example:
    >>> stories = generate_stories(4, seed=0, max_sentences=5)
    >>> arrays = vectorize_stories(stories, build_vocabulary(stories), max_sentences=6)
    >>> arrays.story_ids.shape[:2], arrays.question_ids.shape[0], arrays.supporting.shape
    ((4, 6), 4, (4, 6))
    """
    index = {word: k for k, word in enumerate(vocabulary)}
    if index.get(PAD) != 0 or index.get(UNKNOWN) != 1:
        raise ValueError(f"the vocabulary must start with {[PAD, UNKNOWN]}; received {list(vocabulary[:2])}")
    max_sentences = max_sentences or max(len(story.sentences) for story in stories)
    sentences = [[tokenize(s) for s in story.sentences[-max_sentences:]] for story in stories]
    questions = [tokenize(story.question) for story in stories]
    max_words = max_words or max(len(words) for story in sentences for words in story)
    max_question_words = max_question_words or max(len(words) for words in questions)

    n = len(stories)
    story_ids = np.zeros((n, max_sentences, max_words), "int32")  # (n, S, W)
    question_ids = np.zeros((n, max_question_words), "int32")  # (n, Q)
    supporting = np.zeros((n, max_sentences), "float32")  # (n, S)
    for row, story in enumerate(stories):
        for column, words in enumerate(sentences[row]):
            ids = [index.get(word, 1) for word in words[:max_words]]
            story_ids[row, column, : len(ids)] = ids
        ids = [index.get(word, 1) for word in questions[row][:max_question_words]]
        question_ids[row, : len(ids)] = ids
        cut = len(story.sentences) - len(sentences[row])  # sentences dropped from the start
        for k in story.supporting:
            if k >= cut:
                supporting[row, k - cut] = 1.0
    answer_ids = np.array([index.get(story.answer, 1) for story in stories], "int32")  # (n,)
    return StoryArrays(story_ids, question_ids, answer_ids, supporting, [s.task for s in stories], list(vocabulary))
