"""Writes the IMDB reviews as running text for `lm train --dataset DIR`: a large-vocabulary corpus to test on.

Usage:
    python benchmarks/make_imdb_text.py --archive ../shared/datasets/imdb/aclImdb_labeled.tar.xz \\
        --out runs/imdb_text --train-words 1800000

`DIR/train.txt` holds IMDB training reviews (in a seeded random order, `<br />` breaks removed,
one review a line) up to about `--train-words` whitespace-separated words; `valid.txt` and
`test.txt` hold IMDB test reviews, about a tenth of that each: disjoint reviews, about the sizes
of WikiText-2 (2.1M / 217k / 245k tokens once punctuation is split off). The labels are ignored.
"""

import argparse
import os
import random
import re
import tarfile


def read_reviews(archive, split):
    """The review texts of `aclImdb/<split>/{pos,neg}/`, in archive order."""
    pattern = re.compile(rf"aclImdb/{split}/(pos|neg)/[^/]+\.txt$")
    reviews = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and pattern.search(member.name):
                text = tar.extractfile(member).read().decode("utf-8")
                reviews.append(" ".join(text.replace("<br />", " ").split()))
    return reviews


def take_words(reviews, words):
    """The first reviews holding about `words` words in all."""
    taken, count = [], 0
    for review in reviews:
        if count >= words:
            break
        taken.append(review)
        count += len(review.split())
    return taken


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", required=True, help="aclImdb_labeled.tar.xz")
    parser.add_argument("--out", required=True, help="the folder to write train.txt, valid.txt and test.txt into")
    parser.add_argument("--train-words", type=int, default=1_800_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train, test = read_reviews(args.archive, "train"), read_reviews(args.archive, "test")
    random.Random(args.seed).shuffle(train)
    random.Random(args.seed + 1).shuffle(test)
    held = take_words(test, args.train_words // 5)
    splits = {"train": take_words(train, args.train_words), "valid": held[: len(held) // 2],
              "test": held[len(held) // 2:]}
    os.makedirs(args.out, exist_ok=True)
    for name, reviews in splits.items():
        with open(os.path.join(args.out, f"{name}.txt"), "w", encoding="utf-8") as f:
            f.writelines(review + "\n" for review in reviews)
        print(f"{name}: {len(reviews)} reviews, {sum(len(r.split()) for r in reviews)} words")


if __name__ == "__main__":
    main()
