"""Question answering: `StoryReader`, a multi-hop attention reader of short stories (bAbI style)."""

from lstm_keras.models.question_answering.story_reader import StoryReader
