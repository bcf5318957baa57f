"""Where saved maps live: the ``MapRepository`` Protocol and its two backends.

- ``SqliteMapRepository``: an embedded SQLite file in the writable state directory
  (created on first use; WAL, ``synchronous=FULL``, every write one ``BEGIN IMMEDIATE``
  transaction, so an acknowledged write survives a ``kill -9`` and several workers
  share the file).
- ``PostgresMapRepository``: the same tables in PostgreSQL, for replicas that share
  one set of maps (psycopg 3 and its connection pool).

Both run the same SQL (``?`` placeholders, rewritten for psycopg) and answer the same
contract suite (tests/test_studio_store.py). Published versions are immutable: no
method changes one, and a trigger in each database refuses UPDATE and DELETE of a
version and of what was rendered once when it was published: its page HTML
(``studio_version_pages``) and its headline, PNG and SVG at the size preset
(``studio_version_renders``).

The studio's rate limits (map creations, previews) are counted here too
(``studio_rate``: hits per kind, client address and clock hour, one transaction per hit,
past hours pruned), so every worker and replica sharing the store shares one budget.
Methods are synchronous (the drivers are); the web layer calls them in a thread pool.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from service.domain.errors import StoreError
from service.studio import tokens
from service.studio.errors import (
    ConflictError,
    MapNotFoundError,
    PreconditionFailedError,
)
from service.studio.spec import MapDocument, parse_document

EXPORT_FORMAT = "frontier-atlas-maps"
EXPORT_VERSION = 1


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class MapRecord:
    """A saved map's current state (its draft), without any secret."""

    id: str
    revision: int  # 1 on creation, +1 on every change of the draft
    document: MapDocument
    created: str  # RFC 3339, UTC
    updated: str
    latest_version: int  # 0: never published
    owner_key: str | None  # id of the API key that created it, if any
    edit_hash: str | None  # SHA-256 of the edit token; None once deleted
    deleted: str | None = None

    @property
    def etag(self) -> str:
        """The strong ETag of this revision of the draft."""
        return f'"{self.id}.{self.revision}"'


@dataclass(frozen=True)
class VersionRecord:
    """One published, immutable version of a map."""

    map_id: str
    n: int
    document: MapDocument
    data_version: str  # the data it was drawn from
    data_time: str
    published: str
    title: str | None = None  # the headline shown, stored at publish (None: not stored)


@dataclass(frozen=True)
class VersionRenders:
    """What is rendered once when a version is published and kept with it: the headline it
    shows (its own title, or the one the renderer made from the data) and the PNG and SVG
    at the document's size preset."""

    title: str
    png: bytes
    svg: bytes


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as listed (its secret is never stored)."""

    id: str
    name: str
    created: str
    revoked: str | None


@dataclass(frozen=True)
class ImportReport:
    """What ``import_maps`` did."""

    imported: int
    skipped: list[str]


@runtime_checkable
class MapRepository(Protocol):
    """Saved maps, their versions and API keys; every write is one transaction."""

    def create(self, document: MapDocument, owner_key: str | None = None
               ) -> tuple[MapRecord, str]:  # fmt: skip
        """A new map and its edit token (returned once; only its hash is kept)."""
        ...

    def get(self, map_id: str) -> MapRecord:
        """The map (deleted ones too: check ``deleted``); MapNotFoundError if unknown."""
        ...

    def by_edit_hash(self, edit_hash: str) -> MapRecord | None:
        """The live map whose edit token hashes to *edit_hash*."""
        ...

    def update(self, map_id: str, document: MapDocument, revision: int) -> MapRecord:
        """Replace the draft if it is still at *revision*; PreconditionFailedError if not."""
        ...

    def rotate_token(self, map_id: str) -> str:
        """A new edit token for the map; the old one stops working."""
        ...

    def publish(self, map_id: str, data_version: str, data_time: str,
                revision: int | None = None, page: bytes | None = None,
                n: int | None = None, renders: VersionRenders | None = None
                ) -> VersionRecord:  # fmt: skip
        """Freeze the draft as version n+1, with the data it is drawn from.

        ConflictError when the latest version already has this document and data.
        *page* (the version's page HTML) and *renders* (headline, PNG, SVG), rendered at
        publish time for revision *revision* as version *n*, are stored with it in the same
        transaction; ConflictError when another publish took number *n* first.
        """
        ...

    def version_page(self, map_id: str, n: int) -> bytes | None:
        """The page HTML stored when version *n* was published (None: published before
        pages were stored, or imported without one)."""
        ...

    def version_image(self, map_id: str, n: int, fmt: str) -> bytes | None:
        """The ``png`` or ``svg`` stored when version *n* was published (None: published
        before images were stored)."""
        ...

    def rate_hit(self, kind: str, client: str, limit: int, at: float | None = None) -> int:
        """Count one *kind* event of *client* in the current hour window, unless it already
        has *limit*; 0 when counted, else the seconds until the window ends. Past windows
        are pruned in the same transaction."""
        ...

    def versions(self, map_id: str) -> list[VersionRecord]:
        """Every published version, oldest first."""
        ...

    def version(self, map_id: str, n: int) -> VersionRecord:
        """One version (also of a deleted map); MapNotFoundError if none."""
        ...

    def delete(self, map_id: str) -> None:
        """Drop the draft and its edit access; published versions stay."""
        ...

    def create_key(self, name: str) -> tuple[ApiKeyRecord, str]:
        """A new API key and its secret (returned once)."""
        ...

    def keys(self) -> list[ApiKeyRecord]:
        """Every API key, revoked ones too."""
        ...

    def revoke_key(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key; MapNotFoundError if there is no such key."""
        ...

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The unrevoked key whose secret hashes to *key_hash*."""
        ...

    def export(self) -> dict[str, Any]:
        """Every map with every version, as one JSON-ready document."""
        ...

    def import_maps(self, document: dict[str, Any]) -> ImportReport:
        """Add the maps of an export; ids already present are skipped."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _OverLimit(Exception):  # noqa: N818 - leaves the transaction (rolled back) with a value
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


def now() -> str:
    """The current time, RFC 3339 UTC with microseconds (sorts as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- shared SQL
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS studio_maps (
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        document TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        latest_version INTEGER NOT NULL DEFAULT 0,
        owner_key TEXT,
        edit_hash TEXT UNIQUE,
        deleted TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS studio_versions (
        map_id TEXT NOT NULL REFERENCES studio_maps(id),
        n INTEGER NOT NULL,
        document TEXT NOT NULL,
        data_version TEXT NOT NULL,
        data_time TEXT NOT NULL,
        published TEXT NOT NULL,
        PRIMARY KEY (map_id, n)
    )""",
    """CREATE TABLE IF NOT EXISTS studio_version_pages (
        map_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        html TEXT NOT NULL,
        PRIMARY KEY (map_id, n),
        FOREIGN KEY (map_id, n) REFERENCES studio_versions(map_id, n)
    )""",
    """CREATE TABLE IF NOT EXISTS studio_version_renders (
        map_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        title TEXT NOT NULL,
        png BYTEA NOT NULL,
        svg BYTEA NOT NULL,
        PRIMARY KEY (map_id, n),
        FOREIGN KEY (map_id, n) REFERENCES studio_versions(map_id, n)
    )""",
    """CREATE TABLE IF NOT EXISTS studio_rate (
        kind TEXT NOT NULL,
        client TEXT NOT NULL,
        hour BIGINT NOT NULL,
        hits INTEGER NOT NULL,
        PRIMARY KEY (kind, client, hour)
    )""",
    "CREATE INDEX IF NOT EXISTS studio_rate_hour ON studio_rate (hour)",
    """CREATE TABLE IF NOT EXISTS studio_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        revoked TEXT
    )""",
]
MAP_COLUMNS = "id, revision, document, created, updated, latest_version, owner_key, " \
              "edit_hash, deleted"  # fmt: skip
VERSION_COLUMNS = "map_id, n, document, data_version, data_time, published"
#: A version with the headline stored at publish (LEFT JOIN: older versions have none).
VERSION_SELECT = ("SELECT v.map_id, v.n, v.document, v.data_version, v.data_time, "
                  "v.published, r.title FROM studio_versions v LEFT JOIN "
                  "studio_version_renders r ON r.map_id = v.map_id AND r.n = v.n")
IMAGE_FORMATS = ("png", "svg")
RATE_WINDOW = 3600  # seconds: the rate limit counts per hour window


def _text(value: Any) -> str:
    return value if isinstance(value, str) else bytes(value).decode()


def _map(row: Sequence[Any]) -> MapRecord:
    return MapRecord(row[0], int(row[1]), parse_document(_text(row[2])), row[3], row[4],
                     int(row[5]), row[6], row[7], row[8])  # fmt: skip


def _version(row: Sequence[Any]) -> VersionRecord:
    return VersionRecord(row[0], int(row[1]), parse_document(_text(row[2])), row[3], row[4],
                         row[5], row[6] if len(row) > 6 else None)  # fmt: skip


def _key(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(row[0], row[1], row[2], row[3])


class SqlMapRepository:
    """The repository logic over any DB-API connection; backends supply ``_tx``."""

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction; yields ``run(sql, params) -> cursor``."""
        raise NotImplementedError
        yield

    # -- maps
    def create(self, document: MapDocument, owner_key: str | None = None
               ) -> tuple[MapRecord, str]:  # fmt: skip
        """A new map and its edit token (returned once; only its hash is kept)."""
        token = tokens.new_edit_token()
        stamp = now()
        with self._tx() as run:
            for _ in range(5):  # an id collision at 60 bits is vanishingly rare; retry anyway
                map_id = tokens.new_map_id()
                if run("SELECT 1 FROM studio_maps WHERE id = ?", (map_id,)).fetchone() is None:
                    break
            run(f"INSERT INTO studio_maps ({MAP_COLUMNS}) VALUES (?, 1, ?, ?, ?, 0, ?, ?, NULL)",
                (map_id, document.canonical_json().decode(), stamp, stamp, owner_key,
                 tokens.token_hash(token)))  # fmt: skip
        return self.get(map_id), token

    def get(self, map_id: str) -> MapRecord:
        """The map (deleted ones too: check ``deleted``); MapNotFoundError if unknown."""
        with self._tx() as run:
            row = run(f"SELECT {MAP_COLUMNS} FROM studio_maps WHERE id = ?", (map_id,)).fetchone()
        if row is None:
            raise MapNotFoundError(f"No saved map {map_id[:40]!r}.")
        return _map(row)

    def by_edit_hash(self, edit_hash: str) -> MapRecord | None:
        """The live map whose edit token hashes to *edit_hash*."""
        with self._tx() as run:
            row = run(f"SELECT {MAP_COLUMNS} FROM studio_maps WHERE edit_hash = ? "
                      "AND deleted IS NULL", (edit_hash,)).fetchone()  # fmt: skip
        return _map(row) if row else None

    def _live(self, run: Any, map_id: str) -> MapRecord:
        row = run(f"SELECT {MAP_COLUMNS} FROM studio_maps WHERE id = ?", (map_id,)).fetchone()
        if row is None or row[8] is not None:
            raise MapNotFoundError(f"No saved map {map_id[:40]!r}" +
                                   (" (it was deleted)." if row else "."))  # fmt: skip
        return _map(row)

    def update(self, map_id: str, document: MapDocument, revision: int) -> MapRecord:
        """Replace the draft if it is still at *revision*; PreconditionFailedError if not."""
        with self._tx() as run:
            current = self._live(run, map_id)
            changed = run("UPDATE studio_maps SET document = ?, revision = revision + 1, "
                          "updated = ? WHERE id = ? AND revision = ? AND deleted IS NULL",
                          (document.canonical_json().decode(), now(), map_id,
                           revision)).rowcount  # fmt: skip
            if changed != 1:
                raise PreconditionFailedError(
                    f"The map is at revision {current.revision}, not {revision}: someone else "
                    f"saved it. Reload it (ETag {current.etag}) and apply your change again.")
        return self.get(map_id)

    def rotate_token(self, map_id: str) -> str:
        """A new edit token for the map; the old one stops working."""
        token = tokens.new_edit_token()
        with self._tx() as run:
            self._live(run, map_id)
            run("UPDATE studio_maps SET edit_hash = ?, updated = ? WHERE id = ?",
                (tokens.token_hash(token), now(), map_id))
        return token

    def publish(self, map_id: str, data_version: str, data_time: str,
                revision: int | None = None, page: bytes | None = None,
                n: int | None = None, renders: VersionRenders | None = None
                ) -> VersionRecord:  # fmt: skip
        """Freeze the draft as version n+1, with the data it is drawn from (and *page*,
        its HTML, and *renders*, its headline, PNG and SVG, rendered at publish time, when
        given)."""
        expected = n
        with self._tx() as run:
            current = self._live(run, map_id)
            if revision is not None and revision != current.revision:
                raise PreconditionFailedError(
                    f"The map is at revision {current.revision}, not {revision}.")
            doc = current.document.canonical_json().decode()
            if current.latest_version:
                last = run("SELECT document, data_version FROM studio_versions "
                           "WHERE map_id = ? AND n = ?",
                           (map_id, current.latest_version)).fetchone()  # fmt: skip
                if last is not None and _text(last[0]) == doc and last[1] == data_version:
                    raise ConflictError(
                        f"Version {current.latest_version} already shows this map with this "
                        "data; change the map (or wait for new data) to publish a new version.")
            n = current.latest_version + 1
            if expected is not None and expected != n:
                raise ConflictError("Another publish of this map happened at the same time; "
                                    "look at its versions and try again.")
            moved = run("UPDATE studio_maps SET latest_version = ? WHERE id = ? "
                        "AND latest_version = ?", (n, map_id, n - 1)).rowcount  # fmt: skip
            if moved != 1:
                raise ConflictError("Another publish of this map happened at the same time; "
                                    "look at its versions and try again.")
            run(f"INSERT INTO studio_versions ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (map_id, n, doc, data_version, data_time, now()))
            if page is not None:
                run("INSERT INTO studio_version_pages (map_id, n, html) VALUES (?, ?, ?)",
                    (map_id, n, page.decode()))
            if renders is not None:
                self._insert_renders(run, map_id, n, renders)
        return self.version(map_id, n)

    @staticmethod
    def _insert_renders(run: Any, map_id: str, n: int, renders: VersionRenders) -> None:
        run("INSERT INTO studio_version_renders (map_id, n, title, png, svg) "
            "VALUES (?, ?, ?, ?, ?)", (map_id, n, renders.title, renders.png, renders.svg))

    def version_image(self, map_id: str, n: int, fmt: str) -> bytes | None:
        """The PNG or SVG stored when version *n* was published, if any."""
        if fmt not in IMAGE_FORMATS:
            raise ValueError(f"fmt must be one of {IMAGE_FORMATS}")
        with self._tx() as run:
            row = run(f"SELECT {fmt} FROM studio_version_renders WHERE map_id = ? AND n = ?",
                      (map_id, n)).fetchone()  # fmt: skip
        return bytes(row[0]) if row else None

    def rate_hit(self, kind: str, client: str, limit: int, at: float | None = None) -> int:
        """Count one event in the current hour window unless *limit* is reached (then the
        seconds until the window ends); past windows are pruned in the same transaction."""
        at = time.time() if at is None else at
        hour = int(at // RATE_WINDOW)
        try:
            with self._tx() as run:
                run("DELETE FROM studio_rate WHERE hour < ?", (hour,))
                hits = run("INSERT INTO studio_rate (kind, client, hour, hits) "
                           "VALUES (?, ?, ?, 1) ON CONFLICT (kind, client, hour) DO UPDATE "
                           "SET hits = studio_rate.hits + 1 RETURNING hits",
                           (kind, client[:100], hour)).fetchone()[0]  # fmt: skip
                if int(hits) > limit:  # over: the increment is rolled back with the raise
                    raise _OverLimit(int((hour + 1) * RATE_WINDOW - at) + 1)
        except _OverLimit as over:
            return over.retry_after
        return 0

    def version_page(self, map_id: str, n: int) -> bytes | None:
        """The page HTML stored when version *n* was published, if any."""
        with self._tx() as run:
            row = run("SELECT html FROM studio_version_pages WHERE map_id = ? AND n = ?",
                      (map_id, n)).fetchone()  # fmt: skip
        return _text(row[0]).encode() if row else None

    def versions(self, map_id: str) -> list[VersionRecord]:
        """Every published version, oldest first."""
        with self._tx() as run:
            rows = run(f"{VERSION_SELECT} WHERE v.map_id = ? ORDER BY v.n",
                       (map_id,)).fetchall()  # fmt: skip
        return [_version(r) for r in rows]

    def version(self, map_id: str, n: int) -> VersionRecord:
        """One version (also of a deleted map); MapNotFoundError if none."""
        with self._tx() as run:
            row = run(f"{VERSION_SELECT} WHERE v.map_id = ? AND v.n = ?",
                      (map_id, n)).fetchone()  # fmt: skip
        if row is None:
            raise MapNotFoundError(f"Map {map_id[:40]!r} has no published version {n}.")
        return _version(row)

    def delete(self, map_id: str) -> None:
        """Drop the draft and its edit access; published versions stay."""
        with self._tx() as run:
            self._live(run, map_id)
            run("UPDATE studio_maps SET deleted = ?, edit_hash = NULL, document = ?, "
                "revision = revision + 1, updated = ? WHERE id = ?",
                (now(), MapDocument().canonical_json().decode(), now(), map_id))

    # -- API keys
    def create_key(self, name: str) -> tuple[ApiKeyRecord, str]:
        """A new API key and its secret (returned once)."""
        secret = tokens.new_api_key()
        key = ApiKeyRecord(tokens.new_key_id(), name[:100], now(), None)
        with self._tx() as run:
            run("INSERT INTO studio_keys (id, name, key_hash, created, revoked) "
                "VALUES (?, ?, ?, ?, NULL)", (key.id, key.name, tokens.token_hash(secret),
                                              key.created))  # fmt: skip
        return key, secret

    def keys(self) -> list[ApiKeyRecord]:
        """Every API key, revoked ones too."""
        with self._tx() as run:
            rows = run("SELECT id, name, created, revoked FROM studio_keys "
                       "ORDER BY created").fetchall()  # fmt: skip
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key; MapNotFoundError if there is no such key."""
        with self._tx() as run:
            run("UPDATE studio_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (now(), key_id))
            row = run("SELECT id, name, created, revoked FROM studio_keys WHERE id = ?",
                      (key_id,)).fetchone()  # fmt: skip
        if row is None:
            raise MapNotFoundError(f"No API key {key_id[:40]!r}.")
        return _key(row)

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The unrevoked key whose secret hashes to *key_hash*."""
        with self._tx() as run:
            row = run("SELECT id, name, created, revoked FROM studio_keys WHERE key_hash = ? "
                      "AND revoked IS NULL", (key_hash,)).fetchone()  # fmt: skip
        return _key(row) if row else None

    # -- backups
    def export(self) -> dict[str, Any]:
        """Every map with every version, as one JSON-ready document (hashes, never tokens)."""
        with self._tx() as run:
            maps = run(f"SELECT {MAP_COLUMNS} FROM studio_maps ORDER BY created, id").fetchall()
            versions = run(f"SELECT {VERSION_COLUMNS} FROM studio_versions "
                           "ORDER BY map_id, n").fetchall()  # fmt: skip
            pages = {(r[0], int(r[1])): _text(r[2]) for r in
                     run("SELECT map_id, n, html FROM studio_version_pages").fetchall()}
            renders = {(r[0], int(r[1])): {"title": r[2],
                                           "png": base64.b64encode(bytes(r[3])).decode(),
                                           "svg": bytes(r[4]).decode()}
                       for r in run("SELECT map_id, n, title, png, svg "
                                    "FROM studio_version_renders").fetchall()}  # fmt: skip
        by_map: dict[str, list[dict[str, Any]]] = {}
        for row in versions:
            v = _version(row)
            entry = {"n": v.n, "document": v.document.model_dump(mode="json"),
                     "data_version": v.data_version, "data_time": v.data_time,
                     "published": v.published}  # fmt: skip
            if (v.map_id, v.n) in pages:
                entry["page"] = pages[(v.map_id, v.n)]
            if (v.map_id, v.n) in renders:
                entry["renders"] = renders[(v.map_id, v.n)]
            by_map.setdefault(v.map_id, []).append(entry)
        out = []
        for row in maps:
            m = _map(row)
            out.append({"id": m.id, "revision": m.revision,
                        "document": m.document.model_dump(mode="json"), "created": m.created,
                        "updated": m.updated, "latest_version": m.latest_version,
                        "owner_key": m.owner_key, "edit_hash": m.edit_hash,
                        "deleted": m.deleted, "versions": by_map.get(m.id, [])})  # fmt: skip
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "maps": out}

    def import_maps(self, document: dict[str, Any]) -> ImportReport:
        """Add the maps of an export in one transaction; ids already present are skipped."""
        if document.get("format") != EXPORT_FORMAT or document.get("version") != EXPORT_VERSION:
            raise ConflictError(f"Not a {EXPORT_FORMAT} version {EXPORT_VERSION} export.")
        imported, skipped = 0, []
        with self._tx() as run:
            for m in document.get("maps", []):
                if run("SELECT 1 FROM studio_maps WHERE id = ?", (m["id"],)).fetchone():
                    skipped.append(m["id"])
                    continue
                doc = MapDocument.model_validate(m["document"])
                run(f"INSERT INTO studio_maps ({MAP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m["id"], int(m["revision"]), doc.canonical_json().decode(), m["created"],
                     m["updated"], int(m["latest_version"]), m.get("owner_key"),
                     m.get("edit_hash"), m.get("deleted")))  # fmt: skip
                for v in m.get("versions", []):
                    vdoc = MapDocument.model_validate(v["document"])
                    run(f"INSERT INTO studio_versions ({VERSION_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (m["id"], int(v["n"]), vdoc.canonical_json().decode(),
                         v["data_version"], v["data_time"], v["published"]))  # fmt: skip
                    if v.get("page") is not None:
                        run("INSERT INTO studio_version_pages (map_id, n, html) "
                            "VALUES (?, ?, ?)", (m["id"], int(v["n"]), str(v["page"])))
                    if v.get("renders") is not None:
                        r = v["renders"]
                        self._insert_renders(run, m["id"], int(v["n"]), VersionRenders(
                            str(r["title"]), base64.b64decode(r["png"], validate=True),
                            str(r["svg"]).encode()))
                imported += 1
        return ImportReport(imported, skipped)

    def close(self) -> None:
        """Release connections."""


# ---------------------------------------------------------------- SQLite
SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS studio_versions_no_update BEFORE UPDATE ON studio_versions
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS studio_versions_no_delete BEFORE DELETE ON studio_versions
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS studio_version_pages_no_update
       BEFORE UPDATE ON studio_version_pages
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS studio_version_pages_no_delete
       BEFORE DELETE ON studio_version_pages
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS studio_version_renders_no_update
       BEFORE UPDATE ON studio_version_renders
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS studio_version_renders_no_delete
       BEFORE DELETE ON studio_version_renders
       BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END""",
]


class SqliteMapRepository(SqlMapRepository):
    """Maps in an SQLite file (WAL), created with its directory on first use."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                ignore = self.path.parent / ".gitignore"  # user data, never committed
                if not ignore.exists():
                    ignore.write_text("*\n")
                conn = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False, timeout=10.0)  # fmt: skip
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write is on disk
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=10000")  # other workers' writes
                conn.execute("BEGIN IMMEDIATE")
                for statement in SCHEMA + SQLITE_TRIGGERS:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"The maps database {self.path} cannot be opened: {exc}") \
                    from None
            self._conn = conn
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"The maps database is busy or unavailable: {exc}") from None
            try:
                yield conn.execute
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(f"The maps database could not commit: {exc}") from None

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file ("ok" when sound)."""
        with self._lock:
            return str(self._connection().execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Close the connection (reopened on the next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# ---------------------------------------------------------------- PostgreSQL
PG_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION studio_versions_immutable() RETURNS trigger
       LANGUAGE plpgsql AS $$ BEGIN
         RAISE EXCEPTION 'published versions are immutable'; END $$""",
    """CREATE OR REPLACE TRIGGER studio_versions_immutable BEFORE UPDATE OR DELETE
       ON studio_versions FOR EACH ROW EXECUTE FUNCTION studio_versions_immutable()""",
    """CREATE OR REPLACE TRIGGER studio_version_pages_immutable BEFORE UPDATE OR DELETE
       ON studio_version_pages FOR EACH ROW EXECUTE FUNCTION studio_versions_immutable()""",
    """CREATE OR REPLACE TRIGGER studio_version_renders_immutable BEFORE UPDATE OR DELETE
       ON studio_version_renders FOR EACH ROW EXECUTE FUNCTION studio_versions_immutable()""",
]


class PostgresMapRepository(SqlMapRepository):
    """Maps in PostgreSQL, shared by every replica; tables made on first use."""

    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                import psycopg
                from psycopg_pool import ConnectionPool

                try:
                    pool = ConnectionPool(self.url, min_size=1, max_size=self.pool_size,
                                          open=True, timeout=10)  # fmt: skip
                    with pool.connection() as conn, conn.transaction():
                        # replicas starting together: one creates the tables
                        conn.execute("SELECT pg_advisory_xact_lock(7412011)")
                        for statement in SCHEMA + PG_TRIGGERS:
                            conn.execute(statement)
                except (psycopg.Error, OSError) as exc:
                    raise StoreError(f"The maps database is unreachable: "
                                     f"{str(exc).splitlines()[0] if str(exc) else exc}") from None
                self._pool = pool
            return self._pool

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        import psycopg

        pool = self._get_pool()
        try:
            with pool.connection() as conn, conn.transaction():
                yield lambda sql, params=(): conn.execute(sql.replace("?", "%s"), params)
        except psycopg.OperationalError as exc:
            raise StoreError(f"The maps database is unavailable: {exc}") from None

    def close(self) -> None:
        """Close the pool."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def open_repository(state_dir: Path, database_url: str | None, pool_size: int = 4
                    ) -> MapRepository:  # fmt: skip
    """PostgreSQL when a URL is given, else the SQLite file ``<state_dir>/maps.sqlite``."""
    if database_url:
        return PostgresMapRepository(database_url, pool_size)
    return SqliteMapRepository(Path(state_dir) / "maps.sqlite")


def export_json(repo: MapRepository) -> bytes:
    """The export as indented JSON bytes."""
    return orjson.dumps(repo.export(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def import_json(repo: MapRepository, data: bytes | str) -> ImportReport:
    """Import an export read from a file."""
    return repo.import_maps(orjson.loads(data))

