"""The MapRepository contract, run against the embedded SQLite file and a real PostgreSQL
database (created for the session and dropped afterwards; never mocked)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import orjson
import pytest

from service.studio import tokens
from service.studio.errors import ConflictError, MapNotFoundError, PreconditionFailedError
from service.studio.spec import Items, LabelAnnotation, MapDocument
from service.studio.store import (
    MapRepository,
    PostgresMapRepository,
    SqliteMapRepository,
    VersionRenders,
    export_json,
    import_json,
)
from tests.postgis_fixture import temporary_database


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with temporary_database("frontier_atlas_studio_test") as url:
        yield url


@pytest.fixture(scope="module")
def pg_url2() -> Iterator[str]:
    """A second database: the import side of the PostgreSQL round trip."""
    with temporary_database("frontier_atlas_studio_test") as url:
        yield url


def _make(kind: str, tmp_path, pg_url_factory) -> MapRepository:
    if kind == "sqlite":
        return SqliteMapRepository(tmp_path / "state" / "maps.sqlite")
    url = pg_url_factory()
    repo = PostgresMapRepository(url)
    # a clean slate per test: the tables are the repository's own
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS studio_version_renders, studio_version_pages, "
                     "studio_versions, studio_maps, studio_keys, studio_rate CASCADE")
    return repo


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request, tmp_path) -> Iterator[MapRepository]:
    repository = _make(request.param, tmp_path,
                       lambda: request.getfixturevalue("pg_url"))  # fmt: skip
    yield repository
    repository.close()


DOC = MapDocument(title="Divin <b>&</b> the border", lang="ru",
                  items=Items(borders=["BY-UA"], places=["divin"]),
                  annotations=[LabelAnnotation(lon=24.6, lat=51.96, text="Здесь")])  # fmt: skip


def test_create_get_returns_the_document_and_a_token_stored_only_as_hash(repo):
    record, token = repo.create(DOC)
    assert token.startswith(tokens.EDIT_PREFIX) and len(token) >= 4 + 43  # 256 bits
    got = repo.get(record.id)
    assert got.document == DOC and got.revision == 1 and got.latest_version == 0
    assert got.edit_hash == tokens.token_hash(token) and token not in repr(got)
    assert repo.by_edit_hash(tokens.token_hash(token)).id == record.id
    assert repo.by_edit_hash(tokens.token_hash(token + "x")) is None


def test_sqlite_file_holds_no_token(tmp_path):
    repo = SqliteMapRepository(tmp_path / "new" / "dir" / "maps.sqlite")
    assert not (tmp_path / "new").exists()  # created on first use
    _, token = repo.create(DOC)
    repo.close()
    data = b"".join(p.read_bytes() for p in (tmp_path / "new" / "dir").glob("maps.sqlite*"))
    assert token.encode() not in data and tokens.token_hash(token).encode() in data
    conn = sqlite3.connect(tmp_path / "new" / "dir" / "maps.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_map_is_not_found(repo):
    with pytest.raises(MapNotFoundError):
        repo.get("nosuchmap")
    with pytest.raises(MapNotFoundError):
        repo.version("nosuchmap", 1)
    assert repo.versions("nosuchmap") == []


def test_update_needs_the_current_revision(repo):
    record, _ = repo.create(DOC)
    changed = DOC.model_copy(update={"title": "New"})
    updated = repo.update(record.id, changed, 1)
    assert updated.revision == 2 and updated.document.title == "New"
    assert updated.etag != record.etag
    with pytest.raises(PreconditionFailedError):
        repo.update(record.id, DOC, 1)  # stale: nobody's change is overwritten silently
    assert repo.get(record.id).document.title == "New"


def test_concurrent_updates_at_one_revision_let_exactly_one_win(repo):
    record, _ = repo.create(DOC)
    results: list[str] = []

    def attempt(i: int) -> None:
        try:
            repo.update(record.id, DOC.model_copy(update={"title": f"t{i}"}), 1)
            results.append("ok")
        except PreconditionFailedError:
            results.append("412")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["412"] * 5 + ["ok"]
    assert repo.get(record.id).revision == 2


def test_publish_freezes_versions_with_their_data(repo):
    record, _ = repo.create(DOC)
    v1 = repo.publish(record.id, "2025.1", "2025-01-01T00:00:00Z")
    assert (v1.n, v1.document, v1.data_version) == (1, DOC, "2025.1")
    with pytest.raises(ConflictError):  # nothing new to publish
        repo.publish(record.id, "2025.1", "2025-01-01T00:00:00Z")
    v2 = repo.publish(record.id, "2025.2", "2025-02-01T00:00:00Z")  # new data: redraw
    assert v2.n == 2
    repo.update(record.id, DOC.model_copy(update={"title": "Edited"}), 1)
    v3 = repo.publish(record.id, "2025.2", "2025-02-01T00:00:00Z")
    assert v3.document.title == "Edited"
    assert repo.version(record.id, 1).document == DOC  # unchanged
    assert [v.n for v in repo.versions(record.id)] == [1, 2, 3]
    assert repo.get(record.id).latest_version == 3
    with pytest.raises(PreconditionFailedError):
        repo.publish(record.id, "2025.3", "x", revision=1)


def test_versions_are_immutable_in_the_database_itself(repo):
    record, _ = repo.create(DOC)
    repo.publish(record.id, "d1", "2025-01-01T00:00:00Z")
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("UPDATE studio_versions SET document = '{}'")
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("DELETE FROM studio_versions")
    assert repo.version(record.id, 1).document == DOC


def test_publish_stores_the_page_rendered_for_the_version(repo):
    record, _ = repo.create(DOC)
    html = "<html>Divin — Дзівін, data d1 http://base.frontier-atlas.invalid/</html>".encode()
    with pytest.raises(ConflictError):  # rendered as a number another publish took
        repo.publish(record.id, "d1", "2025-01-01T00:00:00Z", page=html, n=2)
    with pytest.raises(PreconditionFailedError):  # rendered for an older draft
        repo.publish(record.id, "d1", "2025-01-01T00:00:00Z", revision=0, page=html, n=1)
    assert repo.get(record.id).latest_version == 0
    v1 = repo.publish(record.id, "d1", "2025-01-01T00:00:00Z", revision=1, page=html, n=1)
    assert v1.n == 1 and repo.version_page(record.id, 1) == html
    v2 = repo.publish(record.id, "d2", "2025-02-01T00:00:00Z")  # no page: drawn live
    assert repo.version_page(record.id, v2.n) is None
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("UPDATE studio_version_pages SET html = 'changed'")
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("DELETE FROM studio_version_pages")
    assert repo.version_page(record.id, 1) == html


RENDERS = VersionRenders("Дзівін <b>&</b>", b"\x89PNG\r\n\x1a\n\x00\xff binary",
                         "<svg><text>Дзівін &amp;</text></svg>".encode())


def test_publish_stores_the_headline_png_and_svg_immutably(repo):
    record, _ = repo.create(DOC)
    v1 = repo.publish(record.id, "d1", "2025-01-01T00:00:00Z", revision=1, page=b"<p>1</p>",
                      n=1, renders=RENDERS)
    assert v1.title == RENDERS.title and repo.versions(record.id)[0].title == RENDERS.title
    assert repo.version_image(record.id, 1, "png") == RENDERS.png
    assert repo.version_image(record.id, 1, "svg") == RENDERS.svg
    with pytest.raises(ValueError):
        repo.version_image(record.id, 1, "html")
    v2 = repo.publish(record.id, "d2", "2025-02-01T00:00:00Z")  # nothing rendered: drawn live
    assert v2.title is None and repo.version_image(record.id, 2, "png") is None
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("UPDATE studio_version_renders SET title = 'changed'")
    with pytest.raises(Exception, match="immutable"), repo._tx() as run:
        run("DELETE FROM studio_version_renders")
    assert repo.version_image(record.id, 1, "png") == RENDERS.png


def test_delete_drops_the_draft_and_edit_access_but_keeps_versions(repo):
    record, token = repo.create(DOC)
    repo.publish(record.id, "d1", "2025-01-01T00:00:00Z")
    repo.delete(record.id)
    gone = repo.get(record.id)
    assert gone.deleted and gone.edit_hash is None and gone.document == MapDocument()
    assert repo.by_edit_hash(tokens.token_hash(token)) is None
    assert repo.version(record.id, 1).document == DOC
    with pytest.raises(MapNotFoundError):
        repo.update(record.id, DOC, gone.revision)
    with pytest.raises(MapNotFoundError):
        repo.delete(record.id)


def test_rotating_the_token_retires_the_old_one(repo):
    record, old = repo.create(DOC)
    new = repo.rotate_token(record.id)
    assert new != old
    assert repo.by_edit_hash(tokens.token_hash(old)) is None
    assert repo.by_edit_hash(tokens.token_hash(new)).id == record.id


def test_api_keys_are_hashed_listed_and_revoked(repo):
    key, secret = repo.create_key("newsroom bot")
    assert secret.startswith(tokens.KEY_PREFIX)
    assert repo.key_by_hash(tokens.token_hash(secret)) == key
    assert [k.id for k in repo.keys()] == [key.id]
    revoked = repo.revoke_key(key.id)
    assert revoked.revoked
    assert repo.key_by_hash(tokens.token_hash(secret)) is None
    with pytest.raises(MapNotFoundError):
        repo.revoke_key("key_nothere")
    record, _ = repo.create(DOC, owner_key=key.id)
    assert repo.get(record.id).owner_key == key.id


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_export_import_round_trips_every_map_and_version(repo, target, tmp_path, request):
    a, token_a = repo.create(DOC)
    repo.publish(a.id, "d1", "2025-01-01T00:00:00Z", page="<p>страница</p>".encode(), n=1,
                 renders=RENDERS)
    repo.update(a.id, DOC.model_copy(update={"caption": "два"}), 1)
    repo.publish(a.id, "d1", "2025-01-01T00:00:00Z")
    b, _ = repo.create(MapDocument(title="draft only"))
    c, _ = repo.create(DOC)
    repo.publish(c.id, "d1", "2025-01-01T00:00:00Z")
    repo.delete(c.id)
    dump = export_json(repo)
    other = _make(target, tmp_path / "other", lambda: request.getfixturevalue("pg_url2"))
    try:
        report = import_json(other, dump)
        assert report.imported == 3 and report.skipped == []
        assert export_json(other) == dump
        assert other.by_edit_hash(tokens.token_hash(token_a)).id == a.id  # edit links survive
        assert import_json(other, dump).skipped == [a.id, b.id, c.id]  # idempotent
        doc = orjson.loads(dump)
        assert [len(m["versions"]) for m in doc["maps"]] == [2, 0, 1]
        assert other.version_page(a.id, 1) == "<p>страница</p>".encode()
        assert other.version_page(a.id, 2) is None
        assert other.version_image(a.id, 1, "png") == RENDERS.png
        assert other.version_image(a.id, 1, "svg") == RENDERS.svg
        assert other.version(a.id, 1).title == RENDERS.title
        assert other.version_image(a.id, 2, "svg") is None
    finally:
        other.close()
