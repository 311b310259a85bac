"""The built-in provider: a question to an intent, without a model.

:func:`translate` reads a question against the catalog with a small documented grammar (see
``docs/prompts.md``): the intents to describe, profile, find, delete a dataset, start a job and
create a policy, and otherwise a question answered by one SELECT. Every word must be read by
the grammar or be a filler word (`the`, `show`, `please`...): anything else makes the answer
:class:`NotUnderstood`, naming the words, never a guess.

The SQL it writes names only catalog tables and columns, and values that are numbers, dates,
declared column values or quoted text (escaped); :func:`compile_sql` checks it again.
"""

from __future__ import annotations

import re

from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.intents import (
    CreatePolicyIntent,
    DeleteDatasetIntent,
    DescribeIntent,
    FindDatasetsIntent,
    Intent,
    NotUnderstood,
    ProfileIntent,
    StartJobIntent,
)
from rivergen.services.planning.lexicon import Vocabulary, build_vocabulary, tokenize
from rivergen.services.planning.sql_writer import read_query

# Characters that belong to SQL, never to a question: a prompt with them is refused whole.
_SQL_MARKERS = re.compile(r";|--|/\*|\*/|\\")
JOB_KINDS = ("pagerank", "similarity")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "for",
        "from",
        "to",
        "me",
        "please",
        "dataset",
        "datasets",
        "table",
        "tables",
        "data",
        "all",
        "about",
        "can",
        "you",
        "show",
        "tell",
        "give",
        "what",
        "is",
        "are",
        "which",
    ]
)


def translate(question: str, catalog: PromptCatalog) -> Intent:
    """What ``question`` asks of ``catalog``'s tables: one intent, or :class:`NotUnderstood`."""
    if not question.strip():
        return NotUnderstood(message="The question is empty.")
    if _SQL_MARKERS.search(question):
        return NotUnderstood(
            message="The question contains SQL syntax (`;`, `--`, `/*`); ask in words.",
            unknown=_SQL_MARKERS.findall(question),
        )
    tokens, stray = tokenize(question)
    if stray:
        return NotUnderstood(message=f"Characters not understood: {' '.join(stray)}", unknown=stray)
    vocabulary = build_vocabulary(catalog)
    words = [t.text for t in tokens]
    for reader in (_describe, _profile, _find, _delete, _job, _policy):
        intent = reader(words, vocabulary)
        if intent is not None:
            return intent
    return read_query(tokens, catalog, vocabulary)


def _table_in(words: list[str], vocabulary: Vocabulary) -> tuple[str | None, list[str]]:
    """The one table named among ``words`` (fillers aside), and the words left unread."""
    found: str | None = None
    unknown: list[str] = []
    i = 0
    while i < len(words):
        match = vocabulary.match(words[i:], "tables")
        if match is not None and found is None:
            found = str(match[1])
            i += match[0]
            continue
        if words[i] not in _STOP:
            unknown.append(words[i])
        i += 1
    return found, unknown


def _about_table(
    words: list[str], vocabulary: Vocabulary, heads: tuple[tuple[str, ...], ...]
) -> tuple[str | None, list[str]] | None:
    for head in heads:
        if tuple(words[: len(head)]) == head:
            return _table_in(words[len(head) :], vocabulary)
    return None


def _missing_table(found: tuple[str | None, list[str]]) -> NotUnderstood:
    _, unknown = found
    return NotUnderstood(
        message="Which dataset? No catalog table is named"
        + (f"; not understood: {' '.join(unknown)}" if unknown else "."),
        unknown=unknown,
    )


def _describe(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    found = _about_table(
        words,
        vocabulary,
        (
            ("describe",),
            ("what", "columns", "does"),
            ("what", "columns", "do"),
            ("what", "columns", "are", "in"),
            ("show", "the", "schema", "of"),
            ("schema", "of"),
            ("what", "does"),
            ("tell", "me", "about"),
        ),
    )
    if found is None:
        return None
    table, unknown = found
    unknown = [w for w in unknown if w not in ("have", "has", "contain", "contains", "columns")]
    if table is None or unknown:
        return _missing_table((table, unknown))
    return DescribeIntent(table=table, understood=[f"describe: the dataset {table}"])


def _profile(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    found = _about_table(
        words,
        vocabulary,
        (
            ("profile",),
            ("summarize",),
            ("summarise",),
            ("statistics", "of"),
            ("stats", "for"),
            ("stats", "of"),
            ("data", "quality", "of"),
        ),
    )
    if found is None:
        return None
    table, unknown = found
    if table is None or unknown:
        return _missing_table((table, unknown))
    return ProfileIntent(table=table, understood=[f"profile: the dataset {table}"])


_FIND_HEADS = (
    ("which", "datasets", "mention"),
    ("which", "datasets", "contain"),
    ("which", "datasets", "have"),
    ("which", "datasets", "are", "about"),
    ("find", "datasets", "about"),
    ("find", "datasets", "with"),
    ("find", "datasets"),
    ("search", "datasets", "for"),
    ("datasets", "about"),
    ("what", "datasets", "mention"),
    ("which", "tables", "mention"),
    ("find", "data", "about"),
)


def _find(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    for head in _FIND_HEADS:
        if tuple(words[: len(head)]) == head:
            terms = [w for w in words[len(head) :] if w not in _STOP and w not in ("or", "and")]
            if not terms:
                return NotUnderstood(message="Find datasets about what?", unknown=[])
            return FindDatasetsIntent(
                terms=terms, understood=[f"find datasets: mentioning {', '.join(terms)}"]
            )
    return None


def _delete(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    if not words or words[0] not in ("delete", "remove", "drop", "erase"):
        return None
    table, unknown = _table_in(words[1:], vocabulary)
    if table is None or unknown:
        return _missing_table((table, unknown))
    return DeleteDatasetIntent(
        table=table, understood=[f"delete: the dataset {table} (needs a confirmation)"]
    )


def _job(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    if not words or words[0] not in ("run", "start", "compute", "launch"):
        return None
    kind = next((w for w in words[1:3] if w in JOB_KINDS), None)
    if kind is None:
        unknown = [w for w in words[1:] if w not in _STOP]
        return NotUnderstood(
            message=f"Which job? Known kinds: {', '.join(JOB_KINDS)}.", unknown=unknown
        )
    rest = [w for w in words[1:] if w not in (kind, "job", "a", "on", "over", "for")]
    table, unknown = _table_in(rest, vocabulary)
    if unknown:
        return NotUnderstood(message="Not understood in the job request.", unknown=unknown)
    return StartJobIntent(
        job_kind=kind,
        table=table,
        understood=[f"start job: {kind}" + (f" on {table}" if table else "")],
    )


_MASK_VERBS = {
    "mask": "redact",
    "redact": "redact",
    "hash": "hash",
    "hide": "deny",
    "deny": "deny",
    "block": "deny",
    "partially": "partial",
}
_ROLES = {
    "viewer": "viewer",
    "viewers": "viewer",
    "editor": "editor",
    "editors": "editor",
    "admin": "admin",
    "admins": "admin",
    "owner": "owner",
    "owners": "owner",
}


def _policy(words: list[str], vocabulary: Vocabulary) -> Intent | None:
    if not words or words[0] not in _MASK_VERBS:
        return None
    method = _MASK_VERBS[words[0]]
    rest = words[1:]
    if method == "partial" and rest[:1] == ["mask"]:
        rest = rest[1:]
    roles = [_ROLES[w] for w in rest if w in _ROLES]
    rest = [w for w in rest if w not in _ROLES and w not in ("for", "from", "to", "and", "in")]
    table, unknown = _table_in([w for w in rest if w not in _column_words(vocabulary)], vocabulary)
    columns = [w for w in rest if w in _column_words(vocabulary, table)]
    unknown = [w for w in unknown if w not in columns]
    if table is None or unknown or (method != "deny" and not columns):
        return NotUnderstood(
            message="A policy names columns, a dataset and roles: "
            "`mask email in customers for viewers`.",
            unknown=unknown,
        )
    rule: dict[str, object]
    if method == "deny":
        rule = {"type": "access", "effect": "deny", "columns": columns or None}
    else:
        rule = {"type": "mask", "columns": columns, "method": method}
    what = f"{words[0]} {', '.join(columns) or 'the dataset'} in {table}"
    policy = {
        "name": what + (f" for {', '.join(roles)}" if roles else ""),
        "dataset": table,
        "rule": rule,
        "roles": roles or None,
    }
    return CreatePolicyIntent(
        policy=policy, understood=[f"create policy: {policy['name']} (needs a confirmation)"]
    )


def _column_words(vocabulary: Vocabulary, table: str | None = None) -> set[str]:
    return {
        ref.column
        for refs in vocabulary.columns.values()
        for ref in refs
        if table is None or ref.table == table
    }
