"""Tests of the generated stories: determinism, answers and supporting sentences checked by an
independent rule-based reader, and the arrays `StoryReader` reads.
"""

import collections
import doctest
import re

import numpy as np
import pytest

from lstm_keras.datasets import stories as stories_module
from lstm_keras.datasets.stories import TASKS
from lstm_keras.datasets.stories import Story
from lstm_keras.datasets.stories import build_vocabulary
from lstm_keras.datasets.stories import generate_stories
from lstm_keras.datasets.stories import vectorize_stories

# The test's own grammar of the stories: an independent reading, not the generator's code.
MOVE = re.compile(r"^(\w+) (?:went|moved|journeyed|travelled) to the (\w+)\.$")
PICK_UP = re.compile(r"^(\w+) (?:picked up|got|grabbed|took) the (\w+)\.$")
DROP = re.compile(r"^(\w+) (?:dropped|discarded|put down|left) the (\w+)\.$")
WHERE = re.compile(r"^Where is (?:the )?(\w+)\?$")
IS_IN = re.compile(r"^Is (\w+) in the (\w+)\?$")


def read_story(story):
    """Answers the question by replaying the sentences: `(answer, supporting indices)`.

    A person is where they last moved; an object is held by whoever last picked it up, until
    dropped, and a held object is where its holder is.
    """
    where = {}  # person -> (index of their last move, room)
    held = {}  # object -> (person, index of the pick-up); absent when not held
    for index, sentence in enumerate(story.sentences):
        if match := MOVE.match(sentence):
            where[match[1]] = (index, match[2])
        elif match := PICK_UP.match(sentence):
            person, thing = match[1], match[2]
            assert person in where, f"{person} takes the {thing} before being anywhere: {sentence!r}"
            assert thing not in held, f"the {thing} is taken while held: {sentence!r}"
            held[thing] = (person, index)
        elif match := DROP.match(sentence):
            person, thing = match[1], match[2]
            assert held.get(thing, (None,))[0] == person, f"{person} drops what they do not hold: {sentence!r}"
            del held[thing]
        else:
            raise AssertionError(f"a sentence outside the grammar: {sentence!r}")
    if match := WHERE.match(story.question):
        name = match[1]
        if name in held:
            person, taken = held[name]
            moved, room = where[person]
            return room, tuple(sorted((taken, moved)))
        assert name in where, f"asked where {name} is, but the story never says: {story}"
        moved, room = where[name]
        return room, (moved,)
    match = IS_IN.match(story.question)
    assert match, f"a question outside the grammar: {story.question!r}"
    moved, room = where[match[1]]
    return ("yes" if room == match[2] else "no"), (moved,)


def test_same_seed_same_stories_other_seed_other_stories():
    assert generate_stories(60, seed=3) == generate_stories(60, seed=3)
    assert generate_stories(60, seed=3) != generate_stories(60, seed=4)
    # The first stories do not depend on how many are drawn.
    assert generate_stories(10, seed=3) == generate_stories(60, seed=3)[:10]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_answer_and_supporting_sentence_follows_from_the_story(seed):
    stories = generate_stories(900, seed=seed, min_sentences=1, max_sentences=12)
    for story in stories:
        answer, supporting = read_story(story)
        assert story.answer == answer, story
        assert story.supporting == supporting, story


def test_supporting_sentences_state_the_answer():
    for story in generate_stories(600, seed=5):
        stated = [story.sentences[k] for k in story.supporting]
        if story.task == "yes_no":
            (sentence,) = stated
            person, asked = IS_IN.match(story.question).groups()
            moved = MOVE.match(sentence)
            assert moved and moved[1] == person, story
            assert (moved[2] == asked) == (story.answer == "yes"), story
        else:
            # The last move of the person (or of the object's holder) names the answer's room.
            moves = [MOVE.match(sentence) for sentence in stated]
            assert any(m and m[2] == story.answer for m in moves), story
            expected = 1 if story.task == "single_supporting_fact" else 2
            assert len(story.supporting) == expected, story


def test_tasks_take_turns_and_answers_are_balanced():
    stories = generate_stories(3000, seed=0)
    assert [s.task for s in stories[:6]] == list(TASKS) * 2
    for task in ("single_supporting_fact", "two_supporting_facts"):
        counts = collections.Counter(s.answer for s in stories if s.task == task)
        assert len(counts) == 6 and min(counts.values()) > 0.6 * max(counts.values()), counts
    yes_no = collections.Counter(s.answer for s in stories if s.task == "yes_no")
    assert set(yes_no) == {"yes", "no"} and abs(yes_no["yes"] - yes_no["no"]) < 100, yes_no
    lengths = collections.Counter(len(s.sentences) for s in stories)
    assert min(lengths) == 2 and max(lengths) == 10
    assert {len(s.sentences) for s in generate_stories(30, "single_supporting_fact", min_sentences=3,
                                                       max_sentences=3)} == {3}


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="tasks"):
        generate_stories(3, tasks=["counting"])
    with pytest.raises(ValueError, match="min_sentences"):
        generate_stories(3, min_sentences=5, max_sentences=4)


def test_vectorized_stories():
    stories = generate_stories(50, seed=1)
    vocabulary = build_vocabulary(stories)
    assert vocabulary[:2] == ["", "[UNK]"] and vocabulary[2:] == sorted(vocabulary[2:])
    arrays = vectorize_stories(stories, vocabulary)
    longest = max(len(s.sentences) for s in stories)
    assert arrays.story_ids.shape[:2] == (50, longest) and arrays.story_ids.dtype == np.int32
    assert len(arrays) == 50 and arrays.tasks == [s.task for s in stories]
    for row, story in enumerate(stories):
        # Sentences as words, right-padded; padding sentences after the story's end.
        for k, sentence in enumerate(story.sentences):
            ids = arrays.story_ids[row, k]
            words = [vocabulary[i] for i in ids[ids != 0]]
            assert words == re.findall(r"\w+", sentence.lower())
        assert not arrays.story_ids[row, len(story.sentences):].any()
        assert vocabulary[arrays.answer_ids[row]] == story.answer
        assert np.flatnonzero(arrays.supporting[row]).tolist() == list(story.supporting)
        question = arrays.question_ids[row]
        assert [vocabulary[i] for i in question[question != 0]] == re.findall(r"\w+", story.question.lower())


def test_long_stories_keep_their_last_sentences_and_unknown_words_become_unk():
    story = Story(
        ("Mary went to the kitchen.", "John went to the attic.", "Mary moved to the garden."),
        "Where is Mary?", "garden", (2,), "single_supporting_fact",
    )
    vocabulary = build_vocabulary(generate_stories(100, seed=0))
    assert "attic" not in vocabulary
    arrays = vectorize_stories([story], vocabulary, max_sentences=2)
    assert arrays.story_ids.shape[1] == 2
    assert arrays.story_ids[0, 0, 4] == 1  # "attic" -> [UNK]
    assert arrays.supporting[0].tolist() == [0.0, 1.0]  # sentence 3 is now sentence 2
    with pytest.raises(ValueError, match="start with"):
        vectorize_stories([story], ["a", "b"])


def test_docstring_examples():
    assert doctest.testmod(stories_module).failed == 0
