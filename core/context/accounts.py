"""Which of an agent's accounts a task names, by the names salespeople use for them.

An account note (type account_context) carries its account's company name and domain. A
task names the account by any of:
- its domain ("northwind.example"), or the domain's first label as a word ("northwind");
- its company name, with or without the legal suffix ("Northwind Health, Inc.",
  "Northwind Health");
- the first word or two of the name, capitalised in the task ("Northwind", "Blue Ridge"),
  unless those are words many names start with ("First", "Blue": lexicon.toml lists them);
- its initials, written in capitals in the task ("NHS" for Northwind Health Systems).
The capitals are the evidence for the short forms: "pilot" in a task is a word, "Pilot"
may be a company.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from core.context.lexicon import STOPWORDS, WORD, Lexicon, Phrase, words

DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+")
# A name's first word alone must be at least this long to name it ("Al" names nobody).
_FIRST_WORD_LENGTH = 4
# Longer names are named by their domain, first words or initials.
_LONGEST_NAME = 8


@dataclass(frozen=True)
class AccountNames:
    """The ways a task could name an account: its words, capitals and domains."""

    lowered: tuple[str, ...]  # the task's words
    # each word of the task -> where it is (the runs of several words start there)
    positions: dict[str, list[int]]
    capitalised: frozenset[int]  # positions of words written with a capital first letter
    acronyms: frozenset[str]  # words written in capitals, lowercase
    domains: frozenset[str]
    lexicon: Lexicon

    @classmethod
    def of(cls, task: str, lexicon: Lexicon) -> AccountNames:
        lowered = words(task)
        written = WORD.findall(task)
        aligned = len(written) == len(lowered)
        domains = DOMAIN.findall(task.lower())
        positions: dict[str, list[int]] = {}
        for position, word in enumerate(lowered):
            positions.setdefault(word, []).append(position)
        return cls(
            lowered=tuple(lowered),
            positions=positions,
            capitalised=frozenset(
                i for i, word in enumerate(written) if aligned and word[:1].isupper()
            ),
            acronyms=frozenset(
                word.lower() for word in written if len(word) >= 2 and word.isupper()
            ),
            domains=frozenset(domains + [domain.removeprefix("www.") for domain in domains]),
            lexicon=lexicon,
        )

    def named(self, subjects: Iterable[Sequence[str | None]]) -> dict[tuple[str, str], str]:
        """The (company, domain) pairs, as given, that the task names -> the name it used."""
        found = {}
        positions, domains = self.positions, self.domains
        for company, domain in subjects:
            # Most accounts of an agent are not named: every alias but the initials starts
            # with the domain or a first word, which the task must hold.
            written, label, name = _first_words(company, domain)
            if (
                not self.acronyms
                and written not in domains
                and label not in positions
                and name not in positions
            ):
                continue
            alias = self._domain_alias(domain) or self._company_alias(company)
            if alias:
                found[(company or "", domain or "")] = alias
        return found

    def _domain_alias(self, domain: str | None) -> str | None:
        if not domain:
            return None
        domain = domain.lower().removeprefix("www.")
        if domain in self.domains:
            return domain
        label = _label_words(domain)
        if not label or label[0] not in self.positions:
            return None
        long_enough = len("".join(label)) >= _FIRST_WORD_LENGTH
        if long_enough and label[0] not in self._generic and self._starts(label):
            return " ".join(label)
        return None

    def _company_alias(self, company: str | None) -> str | None:
        if not company:
            return None
        name = _name_words(company)
        # Every form but the initials starts with the name's first word.
        if not name or (name[0] not in self.positions and not self.acronyms):
            return None
        core = name
        while len(core) > 1 and core[-1] in self.lexicon.legal_suffixes:
            core = core[:-1]
        for full in (name, core):
            if full and self._starts(full):
                return " ".join(full)
        for size in (2, 1):
            short = core[:size]
            if len(core) <= size or set(short) <= self._generic:
                continue
            if size == 1 and len(short[0]) < _FIRST_WORD_LENGTH:
                continue
            if any(start in self.capitalised for start in self._starts(short)):
                return " ".join(short)
        if len(core) >= 2:
            initials = {
                "".join(word[0] for word in core),
                "".join(word[0] for word in core if word not in STOPWORDS),
            }
            named = initials & self.acronyms
            if named:
                return named.pop().upper()
        return None

    @property
    def _generic(self) -> frozenset[str]:
        return self.lexicon.generic_first_words

    def _starts(self, phrase: Phrase) -> list[int]:
        """Where the task's words hold the phrase in a row (a name of at most
        _LONGEST_NAME words)."""
        if not phrase or len(phrase) > _LONGEST_NAME:
            return []
        size, task_words = len(phrase), self.lowered
        return [
            start
            for start in self.positions.get(phrase[0], [])
            if task_words[start : start + size] == phrase
        ]


# An agent's account names are matched against every task: their words are cached per process.
@lru_cache(maxsize=65_536)
def _first_words(company: str | None, domain: str | None) -> tuple[str, str, str]:
    """An account's domain as a task may write it, and the first words of its domain's
    label and of its name ("" where there is none; see named)."""
    written = (domain or "").lower().removeprefix("www.")
    label = _label_words(written)[:1]
    name = _name_words(company)[:1] if company else ()
    return written, label[0] if label else "", name[0] if name else ""


@lru_cache(maxsize=65_536)
def _name_words(company: str) -> Phrase:
    return tuple(words(company))


@lru_cache(maxsize=65_536)
def _label_words(domain: str) -> Phrase:
    """The words of a (lowercase) domain's first label."""
    return tuple(words(domain.split(".")[0]))
