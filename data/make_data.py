"""Writes the project's generated data files into `data/` (deterministic: same code, same bytes).

Usage:
    python data/make_data.py            # (re)write every file
    python data/make_data.py dates.tsv  # only the named files
    python data/make_data.py --check    # exit 1 if a committed file differs from what the code makes

Each generated file is one entry of `GENERATORS`: its name maps to a function from
`lstm_keras.datasets.*` and its keyword arguments; the function returns rows (tuples of strings),
written header-less, tab-separated, one row per line. To add a file, add a line to `GENERATORS`.
"""

import argparse
import os
import sys

from lstm_keras.datasets.dates import generate_dates
from lstm_keras.datasets.reviews import generate_reviews
from lstm_keras.io import write_text

DATA_DIR = os.path.dirname(os.path.abspath(__file__))

# file name -> (generator, keyword arguments)
GENERATORS = {
    "dates.tsv": (generate_dates, {"n": 20000, "seed": 0}),
    "reviews.tsv": (generate_reviews, {"n": 20000, "seed": 0}),
}


def render_tsv(rows):
    """Returns rows as TSV text; fields must not contain tabs or line breaks."""
    lines = []
    for row in rows:
        for field in row:
            if "\t" in field or "\n" in field or "\r" in field:
                raise ValueError(f"a TSV field contains a tab or a line break: {field!r}")
        lines.append("\t".join(row) + "\n")
    return "".join(lines)


def make(name):
    """Returns the text of the generated file `name`."""
    generator, kwargs = GENERATORS[name]
    return render_tsv(generator(**kwargs))


def main(argv=None):
    """Writes (or with --check, compares) the generated files; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"files to make (default: all of {list(GENERATORS)})")
    parser.add_argument("--out", default=DATA_DIR, help="output folder (default: data/)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in GENERATORS]
    if unknown:
        parser.error(f"unknown file(s) {unknown}; known: {list(GENERATORS)}")
    status = 0
    for name in args.names or GENERATORS:
        path = os.path.join(args.out, name)
        text = make(name)
        if args.check:
            current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
            if current != text:
                print(f"{path} is out of date: run python data/make_data.py {name}")
                status = 1
        else:
            write_text(path, text)
            print(f"wrote {path} ({text.count(chr(10))} rows, {len(text.encode())} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
