"""Tests of the generated date-normalisation corpus (`lstm_keras.datasets.dates`, `data/dates.tsv`)."""

import datetime
import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest

from lstm_keras.datasets.dates import DATE_FORMATS, LANGUAGES, generate_dates, render_date

REPO = Path(__file__).resolve().parents[2]

# An independent reader of the generated sources, written from the formats' descriptions.
MONTH_WORDS = {
    1: "january jan enero ene janvier janv januar",
    2: "february feb febrero fevrier fevr februar",
    3: "march mar marzo mars marz",
    4: "april apr abril abr avril avr",
    5: "may mayo mai",
    6: "june jun junio juin juni",
    7: "july jul julio juillet juil juli",
    8: "august aug agosto ago aout",
    9: "september sep sept septiembre septembre",
    10: "october oct octubre octobre oktober okt",
    11: "november nov noviembre novembre",
    12: "december dec diciembre dic decembre dezember dez",
}
WEEKDAY_WORDS = {
    0: "monday mon lunes lundi montag",
    1: "tuesday tue martes mardi dienstag",
    2: "wednesday wed miercoles mercredi mittwoch",
    3: "thursday thu jueves jeudi donnerstag",
    4: "friday fri viernes vendredi freitag",
    5: "saturday sat sabado samedi samstag",
    6: "sunday sun domingo dimanche sonntag",
}
UNITS = "first second third fourth fifth sixth seventh eighth ninth".split()
TEENS = (
    "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
).split()
ORDINAL_WORDS = {word: day for day, word in enumerate(UNITS + TEENS, start=1)}
ORDINAL_WORDS.update({"twentieth": 20, "thirtieth": 30, "thirty-first": 31})
ORDINAL_WORDS.update({f"twenty-{word}": 21 + i for i, word in enumerate(UNITS)})


def lookup_table(words):
    return {word: key for key, text in words.items() for word in text.split()}


MONTHS, WEEKDAYS = lookup_table(MONTH_WORDS), lookup_table(WEEKDAY_WORDS)


def read_date(source):
    """Returns the `datetime.date` a generated source means, checking its weekday if it has one."""
    text = unicodedata.normalize("NFKD", source.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    if m := re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text):
        return datetime.date(*map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})([./])(\d{1,2})\2(\d{1,2})", text):
        return datetime.date(int(m[1]), int(m[3]), int(m[4]))
    if m := re.fullmatch(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})", text):
        return datetime.date(int(m[4]), int(m[3]), int(m[1]))
    words = re.findall(r"[a-z]+(?:-[a-z]+)?|\d+", text)
    years = [int(w) for w in words if w.isdigit() and len(w) == 4]
    days = [int(w) for w in words if w.isdigit() and len(w) <= 2]
    days += [ORDINAL_WORDS[w] for w in words if w in ORDINAL_WORDS]
    months = [MONTHS[w] for w in words if w in MONTHS]
    weekdays = [WEEKDAYS[w] for w in words if w in WEEKDAYS]
    assert len(years) == len(days) == len(months) == 1 and len(weekdays) <= 1, source
    date = datetime.date(years[0], months[0], days[0])
    if weekdays:
        assert weekdays[0] == date.weekday(), f"wrong weekday in {source!r}"
    return date


@pytest.fixture(scope="module")
def generated():
    return generate_dates(3000, seed=11, with_formats=True)


def test_determinism_by_seed():
    pairs = generate_dates(200, seed=5)
    assert pairs == generate_dates(200, seed=5)
    assert pairs != generate_dates(200, seed=6)
    assert generate_dates(50, seed=5) == pairs[:50]
    assert all(len(pair) == 2 for pair in pairs)


def test_targets_are_the_iso_dates_rendered(generated):
    for source, target, _ in generated:
        date = datetime.date.fromisoformat(target)
        assert target == date.isoformat() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        assert read_date(source) == date, (source, target)


def test_every_format_language_and_variation_appears(generated):
    assert {name for _, _, name in generated} == set(DATE_FORMATS)
    assert set(LANGUAGES) >= {"en", "es", "fr", "de"}
    sources = [source for source, _, _ in generated]
    assert any(s.isupper() for s in sources) and any(s.islower() for s in sources)
    assert any(s != s.lower() and s != s.upper() for s in sources)  # as written
    for pattern in (r"\d(st|nd|rd|th)\b", r"\b1er\b", r"twenty-\w+", r"^(jueves|thursday|jeudi|donnerstag)"):
        assert any(re.search(pattern, s, re.IGNORECASE) for s in sources), pattern
    years = sorted(int(t[:4]) for _, t, _ in generated)
    assert years[0] < 1800 and years[-1] > 2100


@pytest.mark.parametrize(
    "name, expected",
    [("cjk", "2026年11月26日"), ("de_numeric", None), ("es_long", None), ("en_words", None)],
)
def test_render_examples(name, expected):
    date = datetime.date(2026, 11, 26)
    text = render_date(date, name)
    assert read_date(text) == date
    if expected:
        assert text == expected
    with pytest.raises(ValueError, match="format_name"):
        render_date(date, "klingon")


def test_committed_data_file_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_data", REPO / "data" / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    committed = (REPO / "data" / "dates.tsv").read_text(encoding="utf-8")
    assert committed == make_data.make("dates.tsv"), "run python data/make_data.py"
    lines = committed.splitlines()
    assert len(lines) == 20000 and all(line.count("\t") == 1 for line in lines)
    assert len(committed.encode("utf-8")) < 1_000_000
