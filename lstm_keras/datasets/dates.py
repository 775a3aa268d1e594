"""A generated translation corpus: dates written by people -> ISO 8601 dates.

"26 de noviembre de 2026", "Nov. 26, 2026", "le jeudi 26 novembre 2026", "26.11.2026",
"November twenty-sixth, 2026", "2026年11月26日" ... all become "2026-11-26". The pairs are
deterministic by seed, cover English, Spanish, French and German (plus numeric and CJK
forms), vary casing, add weekday names (always the right one) and ordinal suffixes. Numeric
forms are day-first or year-first, never the US month/day/year, so no source is ambiguous.

It is small enough for an attention translator to learn in a few minutes on a CPU, and the
attention weights show a readable alignment (day <-> day, month name <-> month number).
"""

import datetime
import random

FIRST_DATE = datetime.date(1700, 1, 1)
LAST_DATE = datetime.date(2199, 12, 31)

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
}
MONTH_ABBREVIATIONS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."),
    "de": ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.",
           "Nov.", "Dez."),
}
# Monday first, as `datetime.date.weekday()`.
WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
}
ENGLISH_ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth", "twentieth", "twenty-first", "twenty-second",
    "twenty-third", "twenty-fourth", "twenty-fifth", "twenty-sixth", "twenty-seventh",
    "twenty-eighth", "twenty-ninth", "thirtieth", "thirty-first",
)


def english_suffix(day):
    """Returns the English ordinal suffix of a day: 1 -> "st", 12 -> "th", 22 -> "nd"."""
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _day(date, rng):
    """The day number, sometimes zero-padded ("03")."""
    return f"{date.day:02d}" if rng.random() < 0.2 else str(date.day)


def _month(date, rng):
    return f"{date.month:02d}" if rng.random() < 0.5 else str(date.month)


def _weekday(date, language, rng, probability=0.3):
    """The weekday name, or None (it is added with the given probability)."""
    return WEEKDAYS[language][date.weekday()] if rng.random() < probability else None


# ------------------------------------------------------------------ English
def _en_month_day_year(date, rng):  # "November 26, 2026", "Thursday, Nov. 26, 2026"
    if rng.random() < 0.5:
        month = MONTHS["en"][date.month - 1]
    else:
        month = MONTH_ABBREVIATIONS["en"][date.month - 1] + rng.choice(("", "."))
    text = f"{month} {_day(date, rng)}, {date.year}"
    weekday = _weekday(date, "en", rng)
    return f"{weekday}, {text}" if weekday else text


def _en_ordinal(date, rng):  # "November 26th, 2026", "the 26th of November, 2026"
    month = MONTHS["en"][date.month - 1]
    day = f"{date.day}{english_suffix(date.day)}"
    if rng.random() < 0.5:
        return f"{month} {day}, {date.year}"
    return f"the {day} of {month}, {date.year}"


def _en_day_month_year(date, rng):  # "26 November 2026", "Thu 26 Nov 2026"
    months = MONTHS if rng.random() < 0.5 else MONTH_ABBREVIATIONS
    text = f"{_day(date, rng)} {months['en'][date.month - 1]} {date.year}"
    weekday = _weekday(date, "en", rng)
    return f"{weekday[:3]} {text}" if weekday else text


def _en_words(date, rng):  # "November twenty-sixth, 2026"
    month = MONTHS["en"][date.month - 1]
    text = f"{month} {ENGLISH_ORDINALS[date.day - 1]}, {date.year}"
    weekday = _weekday(date, "en", rng)
    return f"{weekday}, {text}" if weekday else text


# ------------------------------------------------------------------ Spanish
def _es_long(date, rng):  # "26 de noviembre de 2026", "el jueves 26 de noviembre de 2026"
    day = "1º" if date.day == 1 and rng.random() < 0.3 else _day(date, rng)
    text = f"{day} de {MONTHS['es'][date.month - 1]} de {date.year}"
    weekday = _weekday(date, "es", rng)
    if weekday:
        text = rng.choice((f"{weekday}, {text}", f"{weekday} {text}"))
    return f"el {text}" if rng.random() < 0.2 else text


def _es_short(date, rng):  # "26-nov-2026", "26 nov 2026"
    separator = rng.choice(("-", " "))
    month = MONTH_ABBREVIATIONS["es"][date.month - 1]
    return f"{_day(date, rng)}{separator}{month}{separator}{date.year}"


# ------------------------------------------------------------------- French
def _fr_long(date, rng):  # "le 26 novembre 2026", "jeudi 1er novembre 2026"
    day = "1er" if date.day == 1 else _day(date, rng)
    text = f"{day} {MONTHS['fr'][date.month - 1]} {date.year}"
    weekday = _weekday(date, "fr", rng)
    if weekday:
        text = f"{weekday} {text}"
    return f"le {text}" if rng.random() < 0.4 else text


def _fr_short(date, rng):  # "26 nov. 2026"
    day = "1er" if date.day == 1 and rng.random() < 0.5 else _day(date, rng)
    return f"{day} {MONTH_ABBREVIATIONS['fr'][date.month - 1]} {date.year}"


# ------------------------------------------------------------------- German
def _de_long(date, rng):  # "26. November 2026", "am Donnerstag, 26. November 2026"
    text = f"{_day(date, rng)}. {MONTHS['de'][date.month - 1]} {date.year}"
    weekday = _weekday(date, "de", rng)
    if weekday:
        text = f"{weekday}, {text}"
    return f"am {text}" if rng.random() < 0.2 else text


def _de_short(date, rng):  # "26. Nov. 2026"
    return f"{_day(date, rng)}. {MONTH_ABBREVIATIONS['de'][date.month - 1]} {date.year}"


def _de_numeric(date, rng):  # "26.11.2026", "03.04.2026"
    if rng.random() < 0.5:
        return f"{date.day:02d}.{date.month:02d}.{date.year}"
    return f"{date.day}.{date.month}.{date.year}"


# ------------------------------------------------------------ numeric, CJK
def _day_first_slash(date, rng):  # "26/11/2026", "26-11-2026"
    separator = rng.choice(("/", "-"))
    return f"{_day(date, rng)}{separator}{_month(date, rng)}{separator}{date.year}"


def _year_first(date, rng):  # "2026/11/26", "2026.11.26"
    separator = rng.choice(("/", "."))
    return f"{date.year}{separator}{_month(date, rng)}{separator}{_day(date, rng)}"


def _cjk(date, rng):  # "2026年11月26日"
    return f"{date.year}年{date.month}月{date.day}日"


# name -> (language, render(date, rng) -> text)
DATE_FORMATS = {
    "en_month_day_year": ("en", _en_month_day_year),
    "en_ordinal": ("en", _en_ordinal),
    "en_day_month_year": ("en", _en_day_month_year),
    "en_words": ("en", _en_words),
    "es_long": ("es", _es_long),
    "es_short": ("es", _es_short),
    "fr_long": ("fr", _fr_long),
    "fr_short": ("fr", _fr_short),
    "de_long": ("de", _de_long),
    "de_short": ("de", _de_short),
    "de_numeric": ("de", _de_numeric),
    "day_first_slash": ("numeric", _day_first_slash),
    "year_first": ("numeric", _year_first),
    "cjk": ("cjk", _cjk),
}
# How often each language is drawn: mostly words, some numeric and CJK forms.
LANGUAGE_WEIGHTS = {"en": 0.25, "es": 0.2, "fr": 0.2, "de": 0.2, "numeric": 0.1, "cjk": 0.05}
LANGUAGES = tuple(LANGUAGE_WEIGHTS)
CASINGS = {"as_is": str, "lower": str.lower, "upper": str.upper}


def render_date(date, format_name, rng=None):
    """Writes `date` in the named format (before casing changes).

    Args:
        date: a `datetime.date`.
        format_name: a key of `DATE_FORMATS`.
        rng: a `random.Random` for the format's optional parts (weekday, padding...).

    Returns:
        The date as text.

    Example:
    >>> import datetime
    >>> render_date(datetime.date(2026, 11, 26), "cjk")
    '2026年11月26日'
    """
    if format_name not in DATE_FORMATS:
        raise ValueError(
            f"`format_name` must be one of {tuple(DATE_FORMATS)}; received: {format_name!r}"
        )
    return DATE_FORMATS[format_name][1](date, rng or random.Random(0))


def generate_dates(n, seed=0, first=FIRST_DATE, last=LAST_DATE, with_formats=False):
    """Generates `n` (written date, ISO date) pairs, deterministically by `seed`.

    Each pair draws a date uniformly between `first` and `last`, a language with the
    probabilities of `LANGUAGE_WEIGHTS`, a format of that language uniformly, and a casing (as
    written 60%, lower 20%, upper 20%).

    Args:
        n: the number of pairs.
        seed: the random seed: the same seed gives the same pairs.
        first: the earliest date (a `datetime.date`).
        last: the latest date.
        with_formats: whether to add the format name to each pair.

    Returns:
        A list of `(source, target)` pairs (or `(source, target, format_name)` triples), the
        target in ISO 8601 form "YYYY-MM-DD".

    Example:
    >>> pairs = generate_dates(3, seed=0)
    >>> len(pairs), all(len(target) == 10 for _, target in pairs)
    (3, True)
    >>> generate_dates(3, seed=0) == pairs
    True
    """
    if n < 0:
        raise ValueError(f"`n` must be >= 0; received: n={n}")
    if first > last:
        raise ValueError(f"`first` must not be after `last`; received: {first} > {last}")
    rng = random.Random(seed)
    formats_by_language = {
        language: [name for name, (lang, _) in DATE_FORMATS.items() if lang == language]
        for language in LANGUAGES
    }
    pairs = []
    for _ in range(n):
        date = datetime.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))
        language = rng.choices(LANGUAGES, weights=list(LANGUAGE_WEIGHTS.values()))[0]
        format_name = rng.choice(formats_by_language[language])
        casing = rng.choices(list(CASINGS), weights=(0.6, 0.2, 0.2))[0]
        source = CASINGS[casing](render_date(date, format_name, rng))
        pair = (source, date.isoformat())
        pairs.append(pair + (format_name,) if with_formats else pair)
    return pairs
