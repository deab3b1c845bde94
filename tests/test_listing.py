"""Paged listings walked in key windows (query/listing.py) against a plain-Python oracle.

Generated artifact histories (ids with gaps, create and update times with ties, one to three versions per
artifact, a ``day`` property) go straight into the projection tables. Windows are forced on these small
tables and sized to miss often, so every page crosses window edges, empty windows and the jump past
superseded versions. Paging through must give exactly the visible matching versions at the pinned
position, in (key, id) order, for every ordering, direction, ``as_of`` and page size, also when a token
comes back to a reader that never saw the listing, and while new versions are written between pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from projection import empty_projection, insert_rows

from mlmd_log.query import listing
from mlmd_log.query import select as select_module
from mlmd_log.query.options import ListOptions, OrderByField
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

PROFILE = settings.get_profile("ci")  # registered in conftest.py

TYPE_ID = 10
T0 = 1_767_225_600_000


@dataclass(frozen=True)
class Version:
    node_id: int
    create_time: int
    update_time: int
    day: int
    valid_from: int
    valid_to: int | None


@st.composite
def histories(draw: st.DrawFn) -> list[Version]:
    """Artifacts written in log order: each created at one position and updated at later ones."""
    ids = draw(st.lists(st.integers(1, 400), min_size=1, max_size=40, unique=True))
    out: list[Version] = []
    for node_id in ids:
        created = draw(st.integers(0, 20))
        update_positions = sorted(draw(st.lists(st.integers(created + 1, 30), max_size=2, unique=True)))
        starts = [created, *update_positions]
        create_time = T0 + created // 2  # several positions share a time: ties
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else None
            out.append(Version(node_id, create_time, T0 + start // 2, draw(st.integers(0, 9)), start, end))
    return out


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty projection (one artifact type) that each example refills."""
    yield from empty_projection(TYPE_ID)


@pytest.fixture(scope="module", autouse=True)
def forced_windows() -> Iterator[None]:
    """Windows on tables of any size, sized by a density guess that is usually wrong."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(listing, "SMALL_TABLE", 0)
        patch.setattr(listing, "MARGIN", 0.5)
        patch.setattr(listing, "LEARNT_MARGIN", 0.5)
        patch.setattr(listing, "MAX_WINDOWS", 3)
        patch.setattr(select_module, "_MAX_LISTING", 6)  # listings forget the pages behind them
        patch.setattr(select_module, "_LIST_AHEAD", 3)
        yield


def _load(con: duckdb.DuckDBPyConnection, versions: list[Version], checkpoint: int) -> None:
    for table in ("artifact_versions", "artifact_property_versions", "op_archive"):
        con.execute(f"DELETE FROM {table}")
    _append(con, versions, checkpoint)


def _append(con: duckdb.DuckDBPyConnection, versions: list[Version], checkpoint: int) -> None:
    insert_rows(
        con, "artifact_versions",
        "id, type_id, uri, create_time_since_epoch, last_update_time_since_epoch, proto, valid_from, valid_to",
        [[v.node_id, TYPE_ID, "", v.create_time, v.update_time,
          mlmd.Artifact(id=v.node_id, type_id=TYPE_ID).SerializeToString(), v.valid_from, v.valid_to]
         for v in versions],
    )
    insert_rows(
        con, "artifact_property_versions", "artifact_id, valid_from, name, is_custom, int_value",
        [[v.node_id, v.valid_from, "day", False, v.day] for v in versions],
    )
    con.execute(
        "INSERT INTO op_archive (position, record_time_ms, log_time_ms, outcome) VALUES (?, 0, 0, 'applied')",
        [checkpoint],
    )


_KEY = {
    OrderByField.ID: lambda v: v.node_id,
    OrderByField.CREATE_TIME: lambda v: v.create_time,
    OrderByField.UPDATE_TIME: lambda v: v.update_time,
}


def expected(versions: list[Version], position: int, order: OrderByField, asc: bool, min_day: int | None) -> list[int]:
    visible = [
        v for v in versions
        if v.valid_from <= position and (v.valid_to is None or v.valid_to > position)
        and (min_day is None or v.day > min_day)
    ]
    visible.sort(key=lambda v: (_KEY[order](v), v.node_id), reverse=not asc)
    return [v.node_id for v in visible]


def page_through(readers: list[Reader], options: ListOptions, as_of: int | None) -> list[int]:
    """Every page, each read by the next reader in turn (a token must work on any of them)."""
    ids: list[int] = []
    token = None
    for i in range(1_000):
        reader = readers[i % len(readers)]
        nodes, token = reader.get_nodes_page("artifact", options, token, as_of=as_of if token is None else None)
        assert len(nodes) <= (options.limit or 0)
        ids += [n.id for n in nodes]
        if token is None:
            return ids
        assert len(nodes) == options.limit
    raise AssertionError("paging did not end")


@PROFILE
@given(
    versions=histories(),
    order=st.sampled_from(list(OrderByField)),
    asc=st.booleans(),
    limit=st.integers(1, 7),
    as_of=st.one_of(st.none(), st.integers(0, 30)),
    min_day=st.one_of(st.none(), st.integers(-1, 8)),
    fresh_readers=st.booleans(),
)
def test_pages_equal_the_oracle(
    con: duckdb.DuckDBPyConnection, versions: list[Version], order: OrderByField, asc: bool, limit: int,
    as_of: int | None, min_day: int | None, fresh_readers: bool,
) -> None:
    _load(con, versions, 30)
    filter_query = None if min_day is None else f"properties.day.int_value > {min_day}"
    options = ListOptions(limit=limit, order_by=order, is_asc=asc, filter_query=filter_query)
    readers = [Reader(con), Reader(con)] if fresh_readers else [Reader(con)]
    got = page_through(readers, options, as_of)
    assert got == expected(versions, 30 if as_of is None else as_of, order, asc, min_day)


@PROFILE
@given(versions=histories(), order=st.sampled_from(list(OrderByField)), asc=st.booleans(), limit=st.integers(1, 5))
def test_writes_between_pages_change_nothing(
    con: duckdb.DuckDBPyConnection, versions: list[Version], order: OrderByField, asc: bool, limit: int
) -> None:
    """Tokens pin the first page's position: versions written later (new artifacts, updates closing the
    current versions) neither repeat nor skip a row."""
    _load(con, versions, 30)
    reader = Reader(con)
    options = ListOptions(limit=limit, order_by=order, is_asc=asc, filter_query="properties.day.int_value > 2")
    ids, token = [], None
    position = 30
    while True:
        nodes, token = reader.get_nodes_page("artifact", options, token)
        ids += [n.id for n in nodes]
        if token is None:
            break
        position += 1
        current = [v for v in versions if v.valid_to is None]
        if current:
            victim = current[position % len(current)]
            con.execute(
                "UPDATE artifact_versions SET valid_to = ? WHERE id = ? AND valid_to IS NULL", [position, victim.node_id]
            )
            update = Version(victim.node_id, victim.create_time, T0 + 1_000 + position, 9, position, None)
            versions = [v if v is not victim else Version(**{**v.__dict__, "valid_to": position}) for v in versions]
            versions.append(update)
            fresh = Version(1_000 + position, T0, T0, 9, position, None)  # an early key, written late
            versions.append(fresh)
            _append(con, [update, fresh], position)
    assert ids == expected(versions, 30, order, asc, 2)


def test_a_token_of_another_query_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    from mlmd_log.errors import InvalidArgumentError

    _load(con, [Version(i, T0, T0, 5, 0, None) for i in range(1, 10)], 0)
    reader = Reader(con)
    _, token = reader.get_nodes_page("artifact", ListOptions(limit=2), None)
    assert token is not None
    with pytest.raises(InvalidArgumentError):
        reader.get_nodes_page("artifact", ListOptions(limit=2, is_asc=False), token)


def test_an_empty_table_gives_one_empty_page(con: duckdb.DuckDBPyConnection) -> None:
    _load(con, [], 0)
    assert Reader(con).get_nodes_page("artifact", ListOptions(limit=3), None) == ([], None)
