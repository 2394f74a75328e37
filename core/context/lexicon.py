"""From a task's text to what context assembly searches for: words, their plurals, and the
sales lexicon's concepts (core/context/lexicon.toml, shipped as data).

Matching is deliberately narrow where stemming made false hits (issue 11):
- the full-text index holds words as written (lowercase, no stemming), and a word's other
  forms are searched explicitly: only its singular and plural ("pilot", "pilots"), never a
  suffix-stripped stem, so "signed" does not find "Sign";
- a word with a digit, or of three letters or fewer, is searched exactly: "AES-256" is
  "aes" and "256", and "AE" does not find "aes" (a plural of a short acronym is listed in
  the lexicon where it is meant, "ctos");
- the lexicon's terms of several words match as phrases, so "service line" does not find
  "subject lines"; the task's words of such a phrase still count alone, at a lower weight.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

WORD = re.compile(r"[^\W_]+")
# WORD on lowercase ASCII text: [a-z0-9] runs. Every other byte made a space, split() finds
# them in a third of the expression's time (a block's words are asked for at every call).
_ASCII_SEPARATORS = bytes(byte if chr(byte).isalnum() else 0x20 for byte in range(256))
_DIGIT = re.compile(r"\d")
# Words that say nothing about what a block is about; the index keeps them (phrases need
# them) but a task does not search for them alone.
_STOPWORDS = """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())
# At most this many concepts are searched for (a pasted document is not a task).
MAX_CONCEPTS = 32
# Longer "words" are noise (pasted tokens, base64); PostgreSQL ignores them anyway.
MAX_TERM_LENGTH = 64
_SHORT = 3


def words(text: str) -> list[str]:
    """Lowercase words of a text (letters and digits; everything else separates)."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    return WORD.findall(lowered)


# The same blocks' words are asked for by the dedupe and the explanations of one assembly,
# and the same agent's blocks come back call after call: cached per process, by text.
@lru_cache(maxsize=1024)
def block_words(text: str) -> tuple[str, ...]:
    """words() of a block's content, cached."""
    return tuple(words(text))


def _exact_only(word: str) -> bool:
    return len(word) <= _SHORT or _DIGIT.search(word) is not None


# Word forms are asked for many times per assembly (every task word, every lexicon term of
# its concepts, every word of a chosen block's explanation): cached per process, by word.
@lru_cache(maxsize=65_536)
def singular(word: str) -> str:
    """The word's singular by the regular English rules, or the word: a key that a word and
    its plural share ("pilots" -> "pilot", "companies" -> "company")."""
    if _exact_only(word):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


@lru_cache(maxsize=65_536)
def variants(word: str) -> tuple[str, ...]:
    """The forms of a word the index may hold for it: itself, its singular and its plural."""
    if _exact_only(word):
        return (word,)
    base = singular(word)
    return tuple(dict.fromkeys((word, base, _plural(base))))


Phrase = tuple[str, ...]


@lru_cache(maxsize=65_536)
def phrase_variants(phrase: Phrase) -> tuple[Phrase, ...]:
    """A phrase with the forms of its last word ("finance chief", "finance chiefs")."""
    *head, last = phrase
    return tuple((*head, form) for form in variants(last))


@dataclass(frozen=True)
class Concept:
    """One thing the task asks about and the phrases that say it.

    `said` is how the task put it (its own casing), `name` the lexicon concept's name (None
    for a plain word), `exact` the task's own phrase (and its plural), `synonyms` the
    lexicon's other terms, `weight` 1, or less for a word of a lexicon phrase counted alone.
    """

    said: str
    name: str | None
    exact: tuple[Phrase, ...]
    synonyms: tuple[Phrase, ...]
    weight: float


@dataclass(frozen=True)
class Lexicon:
    """The sales lexicon: concepts by the singular keys of their terms."""

    # singular keys of a term -> (concept name, every term of the concept)
    terms: dict[Phrase, list[tuple[str, tuple[Phrase, ...]]]]
    longest: int
    first_keys: frozenset[str]  # the first key of every term: where a match can start
    generic_first_words: frozenset[str]
    legal_suffixes: frozenset[str]

    @classmethod
    def parse(cls, data: dict[str, object]) -> Lexicon:
        terms: dict[Phrase, list[tuple[str, tuple[Phrase, ...]]]] = {}
        concepts = data.get("concept", [])
        assert isinstance(concepts, list)
        for concept in concepts:
            phrases = tuple(tuple(words(term)) for term in concept["terms"])
            for phrase in phrases:
                terms.setdefault(_keys(phrase), []).append((concept["name"], phrases))
        names = data.get("company_names", {})
        assert isinstance(names, dict)
        return cls(
            terms=terms,
            longest=max((len(key) for key in terms), default=1),
            first_keys=frozenset(key[0] for key in terms),
            generic_first_words=frozenset(names.get("generic_first_words", [])),
            legal_suffixes=frozenset(names.get("legal_suffixes", [])),
        )

    def concepts(self, task: str, *, phrase_word_weight: float) -> list[Concept]:
        """What the task asks about, in order: the lexicon's concepts it names (longest term
        first) and its other words, each at most once."""
        lowered = words(task)
        # The task's own casing, for explanations ("via CFO"); lowercase if it cannot align.
        written = WORD.findall(task)
        if len(written) != len(lowered):
            written = lowered
        keys = [singular(word) for word in lowered]
        found: dict[tuple[str | None, Phrase], Concept] = {}

        def add(concept: Concept) -> None:
            key = (concept.name, concept.exact[0])
            known = found.get(key)
            if known is None or known.weight < concept.weight:
                found[key] = concept

        position = 0
        while position < len(lowered):
            size, entries = self._longest_match(keys, position)
            said = " ".join(written[position : position + size])
            phrase = tuple(lowered[position : position + size])
            for name, phrases in entries:
                exact, others = _split(phrases, phrase)
                add(Concept(said, name, exact, others, 1.0))
            if size > 1 or not entries:
                weight = phrase_word_weight if entries else 1.0
                for offset in range(size):
                    word = lowered[position + offset]
                    if word in STOPWORDS or len(word) > MAX_TERM_LENGTH:
                        continue
                    add(Concept(written[position + offset], None, ((word,),), (), weight))
            position += size
        return list(found.values())[:MAX_CONCEPTS]

    def _longest_match(
        self, keys: list[str], position: int
    ) -> tuple[int, list[tuple[str, tuple[Phrase, ...]]]]:
        if keys[position] not in self.first_keys:  # most words of a task
            return 1, []
        for size in range(min(self.longest, len(keys) - position), 0, -1):
            entries = self.terms.get(tuple(keys[position : position + size]))
            if entries:
                return size, entries
        return 1, []


def _keys(phrase: Phrase) -> Phrase:
    return tuple(singular(word) for word in phrase)


@lru_cache(maxsize=4096)
def _split(
    phrases: tuple[Phrase, ...], said: Phrase
) -> tuple[tuple[Phrase, ...], tuple[Phrase, ...]]:
    """A concept's terms as the task said one: those it said (or its own words when none
    is), and the others (the same tasks' terms come back call after call)."""
    own = _keys(said)
    exact = tuple(p for p in phrases if _keys(p) == own) or (said,)
    return exact, tuple(p for p in phrases if _keys(p) != own)


@cache
def sales_lexicon() -> Lexicon:
    """The lexicon shipped with salesbrain, read once."""
    text = resources.files("core.context").joinpath("lexicon.toml").read_text("utf-8")
    return Lexicon.parse(tomllib.loads(text))


# The same concepts come back task after task ("CFO", "pilot"): their forms are cached.
@lru_cache(maxsize=4096)
def _concept_forms(
    concept: Concept,
) -> tuple[frozenset[Phrase], tuple[tuple[Phrase, frozenset[Phrase]], ...]]:
    """Every form of the concept's own phrases; each synonym with its forms."""
    exact = frozenset(form for phrase in concept.exact for form in phrase_variants(phrase))
    return exact, tuple((term, frozenset(phrase_variants(term))) for term in concept.synonyms)


class Synonyms:
    """Which lexicon terms a text matched the task's concepts through, for the explanation."""

    def __init__(self, concepts: Sequence[Concept]) -> None:
        # Per concept: every form of the task's own phrases; each synonym with its forms.
        self._concepts = [
            (concept.said, *_concept_forms(concept)) for concept in concepts if concept.synonyms
        ]
        # Where a form may start in a text: its first word -> the lengths of the forms that
        # start with it. Only those runs of a text's words can match; building every run
        # of every length cost more than the rest of an assembly's explanations.
        self._starts: dict[str, set[int]] = {}
        for _, exact, terms in self._concepts:
            for form in exact.union(*(forms for _, forms in terms)):
                self._starts.setdefault(form[0], set()).add(len(form))

    def found(self, text: str) -> tuple[tuple[str, str], ...]:
        """(the lexicon term the text holds, the task's words it stands for), per concept
        the text matched only through a synonym."""
        if not self._concepts:
            return ()
        text_words = block_words(text)
        starts = self._starts
        runs = {
            tuple(text_words[start : start + size])
            for start, word in enumerate(text_words)
            if word in starts
            for size in starts[word]
        }
        found = []
        for said, exact, terms in self._concepts:
            if runs & exact:
                continue
            term = next((term for term, forms in terms if runs & forms), None)
            if term is not None:
                found.append((" ".join(term), said))
        return tuple(found)
