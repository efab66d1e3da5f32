"""The demo data: repeatable, and as awkward as real rural addresses."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine, text

from app import MIGRATIONS
from app.demo_data import FORMULA_CELLS, demo_communities, demo_premises
from servicekit.testing import temporary_database
from tests.conftest import seed
from tests.table_health import table_health


def test_the_same_count_gives_the_same_rows() -> None:
    assert list(demo_premises(2000)) == list(demo_premises(2000))
    assert demo_communities() == demo_communities()


def test_about_fifty_communities_with_awkward_names_and_mixed_rfs() -> None:
    communities = demo_communities()
    names = [community["name"] for community in communities]
    assert len(names) == len(set(names)) == 50
    assert any("," in str(name) for name in names)
    assert any("'" in str(name) for name in names)
    assert any(not str(name).isascii() for name in names)
    assert {community["rfs"] for community in communities} == {True, False}
    assert any(community["rfs_date"] is None for community in communities)


def test_premises_mix_segments_flags_and_formula_like_cells() -> None:
    premises = list(demo_premises(20_000))
    assert set(Counter(row.segment for row in premises)) == {"S1", "S2", "S3", "S4", "S5"}
    business = sum(row.business for row in premises) / len(premises)
    bduk = sum(row.bduk for row in premises) / len(premises)
    assert 0.05 < business < 0.12
    assert 0.3 < bduk < 0.4
    assert {row.address_line_3 for row in premises if row.address_line_3} == set(FORMULA_CELLS)
    assert any("," in row.address_line_1 for row in premises)
    assert len({row.uprn for row in premises}) == len(premises)


def test_seeded_tables_are_analysed_for_the_planner(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            analysed = connection.scalars(
                text("SELECT DISTINCT tablename FROM pg_stats WHERE tablename IN ('communities', 'premises')")
            )
            assert sorted(analysed) == ["communities", "premises"]
    finally:
        engine.dispose()


def test_re_seeding_leaves_no_dead_rows_and_the_tables_vacuumed_and_analysed(server_url: str) -> None:
    with temporary_database(server_url, MIGRATIONS) as url:
        seed(url, 2000)
        seed(url, 2000)
        premises, communities = table_health(url, "premises"), table_health(url, "communities")
    assert (premises.rows, premises.dead_rows, premises.estimated_rows) == (2000, 0, 2000)
    assert (communities.rows, communities.dead_rows, communities.estimated_rows) == (50, 0, 50)
    assert (premises.vacuums, premises.all_visible) == (communities.vacuums, communities.all_visible) == (2, True)
