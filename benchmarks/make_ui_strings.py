"""Builds an English–Spanish (or any language's) sentence-pair corpus from the message catalogs of Debian packages.

Usage:
    python benchmarks/make_ui_strings.py --download --out runs/ui_strings
    python benchmarks/make_ui_strings.py --debs /tmp/debs --language de --out runs/ui_strings_de

Free software translates its messages in gettext catalogs (`.mo` files), and Debian packages
ship them: each entry pairs an English message with its translation, made by the projects'
translators under the packages' free licences. This script reads the catalogs of `--language`
from `.deb` files (`--debs`: a folder of them or single files; `--download`: `apt-get download`
fetches `PACKAGES` and `libreoffice-l10n-LANG` into a temporary folder first) and writes `OUT/en-LANG.tsv` and
`OUT/LANG-en.tsv`, `source<TAB>target` files for `lstm-keras translate train --dataset FILE`
(which splits them 80/10/10 by `--seed`). The project stores none of the text; the corpus is
built where it is used.

Kept are messages that read as text: one line, 2 to `--max-words` English words, no format
placeholders (`%s`, `{0}`, `$(ARG1)`), markup or a `_` / `~` inside a word (identifiers, and
accelerators that cannot be told from them), distinct English messages (the first
translation met is kept, packages in sorted order), a translation that differs from the
message. Keyboard-accelerator marks (`_Open`, `~Open`, `&Open`) are removed from both sides.
The result is menu labels, tooltips, help lines and error messages ("Specifies the path to
store the form letters." / "Especifica la ruta para almacenar las cartas modelo."): about as
short as everyday sentences (Spanish: 47k pairs, 5.6 English words a pair) but more technical,
with the case, accents and punctuation of the language.
"""

import argparse
import io
import os
import random
import re
import struct
import subprocess
import sys
import tarfile
import tempfile

# Packages with large catalogs in Debian 12, with `libreoffice-l10n-LANG` (Spanish: about 65k distinct
# entries, 47k once filtered).
PACKAGES = (
    "apt", "bash", "coreutils", "dpkg", "evolution-common", "evolution-data-server-common", "findutils",
    "gedit-common", "gettext-base", "gimp-data", "gnome-control-center-data", "gnome-shell-common", "gnucash-common",
    "gnumeric-common", "gparted", "grep", "inkscape", "libglib2.0-data", "libgtk-3-common",
    "nautilus-data", "sed", "tar", "vlc-data", "vlc-l10n",
)
MO_MAGIC = 0x950412DE
PLACEHOLDER = re.compile(r"%[-#0-9.]*[a-zA-Z%]|%\d|\{[^}]*\}|\$\(|\$\{|<[^>]+>|&\w+;|\\")
ACCELERATOR = re.compile(r"(?<![\w~&_])[_~&](?=\w)")


def read_mo(data):
    """The `{message: translation}` entries of a gettext `.mo` file's bytes (plural and empty ones left out).

    A message with a context (`context\\x04message`) is keyed by its message alone.

    Example:
    >>> read_mo(write_mo({"Open": "Abrir", "menu\\x04Close": "Cerrar", "": "header"}))
    {'Open': 'Abrir', 'Close': 'Cerrar'}
    """
    magic, = struct.unpack("<I", data[:4])
    order = "<" if magic == MO_MAGIC else ">"
    if struct.unpack(order + "I", data[:4])[0] != MO_MAGIC:
        raise ValueError("not a gettext .mo file")
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])
    entries = {}
    for index in range(count):
        length, offset = struct.unpack(order + "2I", data[originals + 8 * index: originals + 8 * index + 8])
        message = data[offset: offset + length]
        length, offset = struct.unpack(order + "2I", data[translations + 8 * index: translations + 8 * index + 8])
        translation = data[offset: offset + length]
        if not message or b"\x00" in message:  # the header, or a plural entry
            continue
        message, translation = message.decode("utf-8", "replace"), translation.decode("utf-8", "replace")
        entries[message.split("\x04")[-1]] = translation
    return entries


def write_mo(entries):
    """The bytes of a little-endian `.mo` file holding `entries` (for tests and examples)."""
    keys = sorted(entries)
    originals = [key.encode() for key in keys]
    translations = [entries[key].encode() for key in keys]
    header_size, count = 28, len(keys)
    data_start = header_size + 16 * count
    tables, blobs, position = [b"", b""], b"", data_start
    for table, strings in ((0, originals), (1, translations)):
        for string in strings:
            tables[table] += struct.pack("<2I", len(string), position)
            blobs += string + b"\x00"
            position += len(string) + 1
    header = struct.pack("<7I", MO_MAGIC, 0, count, header_size, header_size + 8 * count, 0, data_start)
    return header + tables[0] + tables[1] + blobs


def clean(text):
    """The text without accelerator marks, its spaces and tabs collapsed (line breaks stay, for `keep`).

    Example:
    >>> clean("Treat _empty string as ~zero"), clean("Save & Close")
    ('Treat empty string as zero', 'Save & Close')
    """
    return re.sub(r"[ \t]+", " ", ACCELERATOR.sub("", text)).strip()


def keep(message, translation, max_words):
    """Whether an entry reads as text (see the module's docstring)."""
    if "\n" in message or "\n" in translation:
        return False
    if any(mark in text for mark in "_~" for text in (message, translation)):  # inside a word: an identifier, or
        return False  # an accelerator that cannot be told from one
    if PLACEHOLDER.search(message) or PLACEHOLDER.search(translation):
        return False
    return 2 <= len(message.split()) <= max_words and bool(translation.strip())


def catalogs_of_deb(path, language):
    """The `.mo` files' bytes of `language` in a `.deb` (`dpkg-deb --fsys-tarfile`), in member-name order."""
    pattern = re.compile(rf"/{re.escape(language)}/LC_MESSAGES/[^/]+\.mo$")
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = sorted((m for m in tar if m.isfile() and pattern.search(m.name)), key=lambda m: m.name)
        return [tar.extractfile(member).read() for member in members]


def corpus_pairs(deb_paths, language, max_words):
    """The kept `(english, translation)` pairs of the catalogs in `deb_paths`."""
    pairs = {}
    for path in sorted(deb_paths):
        for catalog in catalogs_of_deb(path, language):
            for message, translation in read_mo(catalog).items():
                message, translation = clean(message), clean(translation)
                if message not in pairs and message != translation and keep(message, translation, max_words):
                    pairs[message] = translation
    return list(pairs.items())


def deb_files(path):
    """The `.deb` files of a folder, or the file `path` itself."""
    if not os.path.isdir(path):
        return [path]
    return [os.path.join(path, name) for name in os.listdir(path) if name.endswith(".deb")]


def download(packages, folder):
    """`apt-get download`s `packages` into `folder`; returns the `.deb` paths."""
    subprocess.run(["apt-get", "download", *packages], cwd=folder, check=True)
    return deb_files(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--debs", nargs="+", help=".deb files, or folders of them")
    source.add_argument("--download", action="store_true", help="apt-get download PACKAGES (Debian) first")
    parser.add_argument("--language", default="es", help="the catalogs' language code (es, de, fr, ...)")
    parser.add_argument("--max-words", type=int, default=30, help="the most English words a kept message has")
    parser.add_argument("--seed", type=int, default=0, help="the order of the written pairs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.download:
            paths = download(PACKAGES + (f"libreoffice-l10n-{args.language}",), scratch)
        else:
            paths = [deb for path in args.debs for deb in deb_files(path)]
        pairs = corpus_pairs(paths, args.language, args.max_words)
    random.Random(args.seed).shuffle(pairs)
    os.makedirs(args.out, exist_ok=True)
    for name, rows in ((f"en-{args.language}", pairs), (f"{args.language}-en", [(t, s) for s, t in pairs])):
        with open(os.path.join(args.out, f"{name}.tsv"), "w", encoding="utf-8") as f:
            f.writelines(f"{s}\t{t}\n" for s, t in rows)
    words = sum(len(s.split()) for s, _ in pairs)
    print(f"{len(pairs)} pairs from {len(paths)} packages, {words / max(len(pairs), 1):.1f} English words a pair: "
          f"{args.out}/en-{args.language}.tsv, {args.out}/{args.language}-en.tsv", file=sys.stderr)


if __name__ == "__main__":
    main()
