"""Full-text search over archive records (pure; issue 5 item 6).

Text is folded (NFC, lower case, no diacritics, đ→d: `shared.text.fold`) both when a record is
indexed and when a query is read, so "quyet dinh ban hanh" finds "Quyết định ban hành" and the
other way round. A query becomes an FTS5 expression built only from quoted word tokens, so
nothing a user types (`"`, `*`, `NEAR(`, `OR`, `-`, `:`) is read as FTS5 syntax.

The index is partitioned by year (`partition_of`): one full-text table per year, so a query with
a year reads only that year's posting lists — bm25 counts each phrase's documents over the whole
table it runs on, and that pass was most of a filtered query's cost. The year is therefore not a
token in a year partition's rows. The other filters (type, sender, dossier, state, source) and the
access rule are filter tokens in a column of their own (`tags`), so the full-text engine
intersects them with the words itself.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.staff import Role, StaffMember
from shared.text import fold

# Records in these conditions are not searchable (removed from the index).
HIDDEN_STATES = frozenset({"destroyed", "in_bin"})
SOURCES = frozenset({"incoming", "outgoing", "material"})
# Who sees every record; anyone else sees unrestricted ones and those naming them.
SEE_ALL_ROLES = frozenset({Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.CLERK, Role.ARCHIVIST})

# Columns of the FTS5 table and their bm25 weights: the subject and the code count most.
TEXT_COLUMNS = ("subject", "code", "meta", "body")
COLUMN_WEIGHTS = (10.0, 8.0, 3.0, 1.0, 0.0)  # subject, code, meta, body, tags
MAX_QUERY_CHARS = 500
MAX_TERMS = 12

_WORD = re.compile(r"[^\W_]+")  # FTS5's unicode61 splits on "_" too
_TERM = re.compile(r'"([^"]*)"?|(\S+)')  # a quoted phrase (closing quote optional) or a bare word


def fold_text(text: str | None) -> str:
    return fold(unicodedata.normalize("NFC", text or ""))


def words(text: str | None) -> list[str]:
    return _WORD.findall(fold_text(text))


def _key(value: str) -> str:
    # Filter values (organ ids, dossier codes, type names) become one opaque alphanumeric token.
    return hashlib.blake2b(fold_text(value).strip().encode(), digest_size=8).hexdigest()


def year_tag(year: int) -> str:
    return f"y{year}"


def type_tag(type_name: str) -> str:
    return f"t{_key(type_name)}"


def sender_tag(organ_id: str) -> str:
    return f"s{_key(organ_id)}"


def dossier_tag(code: str) -> str:
    return f"d{_key(code)}"


def state_tag(state: str) -> str:
    return f"x{_key(state)}"


def source_tag(source: str) -> str:
    return f"o{_key(source)}"


RESTRICTED_TAG = "arestricted"
OTHER_STATE_TAG = "xother"  # any state but "kept"


def user_tag(user: str) -> str:
    return f"u{_key(user)}"


# Years that get a partition of their own; a record without a year (or with one outside these) is
# kept in the partition None, with its year as a token.
PARTITION_YEARS = range(1900, 2201)


def partition_of(year: int | None) -> int | None:
    return year if isinstance(year, int) and year in PARTITION_YEARS else None


# --- records -----------------------------------------------------------------------------------


def record_year(record: dict) -> int | None:
    for value in (record.get("year"), (record.get("register") or {}).get("year")):
        if isinstance(value, int):
            return value
    issued = record.get("issued_date")
    if isinstance(issued, (date, datetime)):
        return issued.year
    if isinstance(issued, str) and re.match(r"\d{4}", issued):
        return int(issued[:4])
    return None


def record_state(record: dict) -> str:
    return record.get("state") or "kept"


def is_searchable(record: dict) -> bool:
    return not record.get("withdrawn") and record_state(record) not in HIDDEN_STATES


def _access(record: dict) -> tuple[bool, list[str]]:
    access = record.get("access") or {}
    return bool(access.get("restricted")), [u for u in access.get("users") or [] if isinstance(u, str)]


@dataclass(frozen=True)
class IndexRow:
    """What the index keeps of one record: folded text columns, filter tokens, display fields."""

    id: str
    subject: str
    code: str
    meta: str
    tags: str
    year: int | None
    type_key: str | None
    sender_key: str | None
    state: str
    source: str
    restricted: bool
    users: list[str]
    sort_date: str
    display: dict

    @property
    def partition(self) -> int | None:
        return partition_of(self.year)


def index_row(record: dict) -> IndexRow:
    """The index entry of a searchable record (the body text is added by the index)."""
    year = record_year(record)
    state = record_state(record)
    source = record.get("source") or str(record["_id"]).split(":", 1)[0]
    sender = record.get("sender") or {}
    recipients = [r for r in record.get("recipients") or [] if isinstance(r, dict)]
    dossiers = [d for d in record.get("dossiers") or [] if isinstance(d, str)]
    restricted, users = _access(record)
    type_name = record.get("type_name") or ""
    # Tokens that nearly every record carries ("kept", "not restricted") are left out: bm25 reads a
    # phrase's whole posting list once per query, so such a filter would cost a pass over the index.
    tags = [source_tag(source)]
    if state != "kept":
        tags += [OTHER_STATE_TAG, state_tag(state)]
    if year and partition_of(year) is None:  # a year partition's rows need no year token
        tags.append(year_tag(year))
    if type_name:
        tags.append(type_tag(type_name))
    if sender.get("organ_id"):
        tags.append(sender_tag(sender["organ_id"]))
    tags += [dossier_tag(d) for d in dossiers]
    if restricted:
        tags += [RESTRICTED_TAG, *(user_tag(u) for u in users)]
    meta = " ".join(filter(None, [type_name, record.get("signer"), sender.get("name"), sender.get("organ_id"),
                                  *(r.get("name") for r in recipients), *dossiers]))
    issued = record.get("issued_date")
    sort_date = issued.isoformat() if isinstance(issued, (date, datetime)) else str(issued or "")
    display = {
        "id": record["_id"], "code": record.get("code"), "subject": record.get("subject"), "year": year,
        "type_name": type_name or None, "issued_date": sort_date or None, "source": source, "state": state,
        "sender": {"organ_id": sender.get("organ_id"), "name": sender.get("name")} if sender else None,
        "dossiers": dossiers,
    }
    return IndexRow(
        id=record["_id"], subject=fold_text(record.get("subject")), code=fold_text(record.get("code")),
        meta=fold_text(meta), tags=" ".join(tags), year=year, type_key=_key(type_name) if type_name else None,
        sender_key=_key(sender["organ_id"]) if sender.get("organ_id") else None, state=state, source=source,
        restricted=restricted, users=users, sort_date=sort_date, display=display,
    )


# --- queries -----------------------------------------------------------------------------------


class BadQuery(ValueError):
    """The query cannot be read (too long, a filter out of range)."""


@dataclass(frozen=True)
class Filters:
    year: int | None = None
    type_name: str | None = None
    sender: str | None = None
    dossier: str | None = None
    state: str | None = None
    source: str | None = None

    def tags(self, *, year: bool = True) -> list[str]:
        """The filter tokens; `year=False` leaves the year out (the query runs on its partition)."""
        tags = []
        if self.year is not None and year:
            tags.append(year_tag(self.year))
        if self.type_name:
            tags.append(type_tag(self.type_name))
        if self.sender:
            tags.append(sender_tag(self.sender))
        if self.dossier:
            tags.append(dossier_tag(self.dossier))
        if self.state and fold_text(self.state).strip() != "kept":
            tags.append(state_tag(self.state))
        if self.source:
            tags.append(source_tag(self.source))
        return tags


@dataclass(frozen=True)
class SearchQuery:
    terms: list[list[str]] = field(default_factory=list)  # each term: one word, or a phrase's words
    filters: Filters = Filters()
    visible_to: str | None = None  # None: everything; else this user's restricted records and public ones
    limit: int = 20
    offset: int = 0

    @property
    def has_text(self) -> bool:
        return bool(self.terms)


def parse_terms(q: str | None) -> list[list[str]]:
    """Words ANDed; a quoted phrase stays a phrase; a word that folds to several tokens
    ("15/QĐ-UBND") is a phrase of them. Anything else a user types is dropped."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise BadQuery(f"query longer than {MAX_QUERY_CHARS} characters")
    terms: list[list[str]] = []
    for phrase, word in _TERM.findall(q):
        tokens = words(phrase if phrase else word)
        if tokens and tokens not in terms:
            terms.append(tokens)
    return terms[:MAX_TERMS]


def validate_filters(filters: Filters) -> Filters:
    if filters.year is not None and not 1900 <= filters.year <= 2200:
        raise BadQuery("year must be between 1900 and 2200")
    if filters.source is not None and filters.source not in SOURCES:
        raise BadQuery(f"source must be one of {', '.join(sorted(SOURCES))}")
    for name in ("type_name", "sender", "dossier", "state"):
        value = getattr(filters, name)
        if value is not None and len(value) > 200:
            raise BadQuery(f"{name} longer than 200 characters")
    return filters


def _quoted(tokens: list[str]) -> str:
    # Tokens are letters and digits only, so wrapping them in double quotes is always safe.
    return '"' + " ".join(tokens) + '"'


def partitions_for(query: SearchQuery, existing: list[int | None]) -> list[int | None]:
    """The partitions a query reads, newest year first (the partition None last): with a year, its
    own (or None for a year without one); without, all that exist."""
    if query.filters.year is not None:
        wanted = partition_of(query.filters.year)
        return [wanted] if wanted in existing else []
    return sorted((p for p in existing if p is not None), reverse=True) + ([None] if None in existing else [])


def _words_part(query: SearchQuery) -> str:
    return "(" + " AND ".join(_quoted(t) for t in query.terms) + ")"


def match_expression(query: SearchQuery, *, include_text: bool = True, partition: int | None = None) -> str | None:
    """The FTS5 MATCH expression: the words, the filter tokens and the access tokens in `tags`.
    In a year partition the year filter is the partition itself, so it is no token. The words
    carry no column filter: with one, FTS5 reads every position list of each word's documents
    to check the column, in the match and in bm25's count of the word's documents (a fifth of a
    filtered query at a million records). A word that is a filter token could thus match `tags`
    too — harmless: `tags` weighs nothing in bm25, and the filters and the access rule keep
    their column filter. None when there is nothing to match."""
    parts = []
    if include_text and query.terms:
        parts.append(_words_part(query))
    tags = query.filters.tags(year=partition is None)
    if tags:
        parts.append("tags : (" + " AND ".join(_quoted([t]) for t in tags) + ")")
    excluded = []
    if query.filters.state and fold_text(query.filters.state).strip() == "kept":
        excluded.append(f'tags : "{OTHER_STATE_TAG}"')
    if query.visible_to is not None:  # restricted records that do not name this user
        excluded.append(f'(tags : "{RESTRICTED_TAG}" NOT tags : {_quoted([user_tag(query.visible_to)])})')
    if not parts and excluded:
        return None  # FTS5 cannot start with NOT; the caller lists instead
    expression = " AND ".join(parts)
    for part in excluded:
        expression = f"({expression}) NOT {part}"
    return expression or None


def snippet_expression(query: SearchQuery) -> str | None:
    """The words alone in the text columns, for a result's snippet: the row matched the whole
    expression already, and with the filter tokens in it (or a word matching `tags`) the snippet
    could pick the `tags` column and show them."""
    return "{" + " ".join(TEXT_COLUMNS) + "} : " + _words_part(query) if query.terms else None


def visible_to(member: StaffMember) -> str | None:
    """The access rule: None when the member sees every record, else the user whose restricted
    records they may see besides the unrestricted ones."""
    return None if member.role in SEE_ALL_ROLES else member.user


def may_see(member: StaffMember, record: dict) -> bool:
    restricted, users = _access(record)
    return member.role in SEE_ALL_ROLES or not restricted or member.user in users
