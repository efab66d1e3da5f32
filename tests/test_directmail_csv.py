"""GET /directmail-csv and /directmail-summary as marketing staff and curl users see them."""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app import create_app
from app.data_queries import CSV_COLUMNS
from app.data_types import ExportFilters
from app.demo_data import FORMULA_CELLS, PLACES
from app.mailing_lists import download_name
from config import Settings
from servicekit.testing import LiveServer, assert_problem, socket_that_never_answers, socket_that_refuses
from tests.conftest import DEMO_PREMISES

COMMUNITY_NAMES = [place[0] for place in PLACES]


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


@pytest.fixture(scope="module")
def full_csv(app, fake_entra) -> bytes:
    """The unfiltered mailing list, fetched once for the module."""
    token = fake_entra.make_token(roles=["Directmail.Read"])
    with app.test_client() as client:
        response = client.get("/directmail-csv", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body: bytes = response.content
    return body


def test_the_download_is_a_csv_attachment_named_for_today(client: TestClient, staff: dict[str, str]) -> None:
    response = client.get("/directmail-csv", params={"communities": "Winson"}, headers=staff)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="directmail-winson-{dt.date.today()}.csv"'
    assert response.content.splitlines()[0].decode() == ",".join(CSV_COLUMNS)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({}, "directmail-all"),
        ({"communities": "Tŷ Croes"}, "directmail-ty-croes"),
        (
            {"communities": ["Bishop's Castle", "Winson", "Ashton Keynes, Wiltshire"]},
            "directmail-bishops-castle-and-2-more",
        ),
        (
            {"rfs": "true", "business": "false", "bduk": "true", "segments": ["S2", "S1"]},
            "directmail-all-rfs-not-business-bduk-s1-s2",
        ),
        (
            {"rfs_date_after": "2024-01-01", "rfs_date_before": "2025-01-01"},
            "directmail-all-from-2024-01-01-before-2025-01-01",
        ),
    ],
)
def test_the_file_name_says_what_the_list_holds(
    client: TestClient, staff: dict[str, str], query: dict[str, Any], name: str
) -> None:
    response = client.head("/directmail-csv", params=query, headers=staff)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{name}-{dt.date.today()}.csv"'


def test_a_long_community_name_is_cut_in_the_file_name() -> None:
    filters = ExportFilters(communities=("Aberdaugleddau a'r Cylch, Sir Benfro (Gorllewin)",))
    assert download_name(filters, dt.date(2026, 12, 7)) == "directmail-aberdaugleddau-ar-cylch-sir-be-2026-12-07.csv"


def test_a_client_asking_for_bytes_gets_the_same_file_as_octet_stream(
    client: TestClient, staff: dict[str, str]
) -> None:
    as_csv = client.get("/directmail-csv", params={"communities": "Winson", "bom": "true"}, headers=staff)
    as_bytes = client.get(
        "/directmail-csv",
        params={"communities": "Winson", "bom": "true"},
        headers=staff | {"Accept": "application/octet-stream"},
    )
    assert as_bytes.headers["content-type"] == "application/octet-stream"
    assert as_bytes.headers["content-disposition"] == as_csv.headers["content-disposition"]
    assert as_bytes.content == as_csv.content


def test_every_premises_in_order_with_plain_values(full_csv: bytes) -> None:
    rows = rows_of(full_csv)
    assert len(rows) == DEMO_PREMISES
    keys = [(row["community"], row["postcode"], int(row["uprn"])) for row in rows]
    assert keys == sorted(keys)
    for row in rows:
        assert row["rfs"] in {"true", "false"}
        assert row["business"] in {"true", "false"}
        assert row["bduk"] in {"true", "false"}
        assert row["segment"] in {"S1", "S2", "S3", "S4", "S5"}
        assert row["rfs_date"] == "" or dt.date.fromisoformat(row["rfs_date"])


def test_names_with_commas_accents_and_apostrophes_survive(full_csv: bytes) -> None:
    communities = {row["community"] for row in rows_of(full_csv)}
    assert {"Ashton Keynes, Wiltshire", "Tŷ Croes", "Bishop's Castle"} <= communities
    assert b'"Ashton Keynes, Wiltshire"' in full_csv


def test_formula_cells_are_neutralised(full_csv: bytes) -> None:
    cells = [value for row in rows_of(full_csv) for value in row.values()]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    neutralised = {cell for cell in cells if cell.startswith("'")}
    assert neutralised
    assert neutralised <= {f"'{formula}" for formula in FORMULA_CELLS}


def test_excel_users_can_ask_for_a_byte_order_mark(client: TestClient, staff: dict[str, str]) -> None:
    plain = client.get("/directmail-csv", params={"communities": "Tŷ Croes"}, headers=staff).content
    for_excel = client.get("/directmail-csv", params={"communities": "Tŷ Croes", "bom": "true"}, headers=staff).content
    assert for_excel == b"\xef\xbb\xbf" + plain
    assert "Tŷ Croes".encode() in plain


def test_head_requests_do_not_use_up_download_slots(client: TestClient, staff: dict[str, str]) -> None:
    for _ in range(10):  # more than EXPORT_CONCURRENCY
        head = client.head("/directmail-csv", params={"communities": "Winson"}, headers=staff)
        assert head.status_code == 200
        assert head.content == b""
    assert client.get("/directmail-csv", params={"communities": "Winson"}, headers=staff).status_code == 200


def test_no_matching_rows_is_the_header_alone(client: TestClient, staff: dict[str, str]) -> None:
    response = client.get(
        "/directmail-csv", params={"rfs_date_after": "2099-01-01", "rfs_date_before": "2099-06-01"}, headers=staff
    )
    assert response.status_code == 200
    assert response.content == (",".join(CSV_COLUMNS) + "\n").encode()


@pytest.mark.parametrize(
    "query",
    [
        {"communities": 'Winson, "Ashton Keynes, Wiltshire"'},
        {"communities": ["Winson", "Ashton Keynes, Wiltshire"]},
        {"communities": ["Ashton Keynes, Wiltshire", "Winson", "Winson"]},
    ],
    ids=["csv-line", "repeated", "repeated-twice"],
)
def test_both_ways_of_writing_a_name_with_a_comma_select_that_community(
    client: TestClient, staff: dict[str, str], query: dict[str, Any]
) -> None:
    response = client.get("/directmail-csv", params=query, headers=staff)
    assert {row["community"] for row in rows_of(response.content)} == {"Winson", "Ashton Keynes, Wiltshire"}


# --- Filters: the filtered list is the full list filtered by the same rules ----------------------------


def expected(rows: list[dict[str, str]], query: dict[str, Any], names: list[str] | None) -> list[dict[str, str]]:
    """The rows the filters keep, worked out from the names as picked, not as the service parses them."""

    def keep(row: dict[str, str]) -> bool:
        return all(
            [
                names is None or row["community"] in names,
                "rfs" not in query or row["rfs"] == query["rfs"],
                "rfs_date_before" not in query or ("" < row["rfs_date"] < query["rfs_date_before"]),
                "rfs_date_after" not in query or (row["rfs_date"] >= query["rfs_date_after"] and row["rfs_date"] != ""),
                "business" not in query or row["business"] == query["business"],
                "bduk" not in query or row["bduk"] == query["bduk"],
                "segments" not in query or row["segment"] in query["segments"],
            ]
        )

    return [row for row in rows if keep(row)]


def quoted(name: str) -> str:
    return f'"{name}"' if "," in name else name


filter_queries = st.fixed_dictionaries(
    {},
    optional={
        "communities": st.lists(st.sampled_from(COMMUNITY_NAMES), min_size=1, max_size=4),
        "rfs": st.sampled_from(["true", "false"]),
        "rfs_date_before": st.dates(dt.date(2014, 1, 1), dt.date(2029, 1, 1)).map(str),
        "rfs_date_after": st.dates(dt.date(2014, 1, 1), dt.date(2029, 1, 1)).map(str),
        "business": st.sampled_from(["true", "false"]),
        "bduk": st.sampled_from(["true", "false"]),
        "segments": st.lists(st.sampled_from(["S1", "S2", "S3", "S4", "S5"]), min_size=1, max_size=5),
    },
)


def as_query(picked: dict[str, Any], repeated: bool) -> dict[str, Any]:
    """The filters as a query: lists as repeated parameters (generated clients), or each as one CSV line (curl)."""
    if repeated:
        return picked
    lines = {name: ",".join(map(quoted, picked[name])) for name in ("communities", "segments") if name in picked}
    return picked | lines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picked=filter_queries, repeated=st.booleans())
def test_any_filters_give_the_full_list_filtered_by_the_same_rules(
    client: TestClient, staff: dict[str, str], full_csv: bytes, picked: dict[str, Any], repeated: bool
) -> None:
    names: list[str] | None = picked.get("communities")
    query = as_query(picked, repeated)
    response = client.get("/directmail-csv", params=query, headers=staff)
    if "rfs_date_before" in query and "rfs_date_after" in query and query["rfs_date_after"] >= query["rfs_date_before"]:
        assert response.status_code == 400
        return
    assert response.status_code == 200, response.text
    assert rows_of(response.content) == expected(rows_of(full_csv), picked, names)

    summary = client.get("/directmail-summary", params=query, headers=staff).json()
    rows = rows_of(response.content)
    assert summary["total"] == len(rows)
    counts = {count["name"]: count["premises"] for count in summary["communities"]}
    assert counts == {
        name: sum(row["community"] == name for row in rows) for name in {row["community"] for row in rows}
    }


def test_a_community_the_other_filters_empty_is_counted_at_nothing_not_refused(
    client: TestClient, staff: dict[str, str]
) -> None:
    community = next(item for item in client.get("/communities", headers=staff).json() if item["rfs"])
    query = {"communities": quoted(community["name"]), "rfs": "false"}
    response = client.get("/directmail-summary", params=query, headers=staff)
    assert response.status_code == 200, response.text
    assert response.json() == {"total": 0, "communities": []}


# --- Hostile input: a 400 naming the parameter, never a 500 or extra rows --------------------------------


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"rfs": "maybe"}, "Invalid query parameter 'rfs'"),
        ({"bduk": "1; DROP TABLE premises"}, "Invalid query parameter 'bduk'"),
        ({"segments": "S1,S9"}, "Invalid query parameter 'segments'"),
        ({"segments": "S1' OR '1'='1"}, "Invalid query parameter 'segments'"),
        (
            {"rfs_date_before": "2026-02-30"},
            "Invalid query parameter 'rfs_date_before': '2026-02-30' is not a 'date' (YYYY-MM-DD)",
        ),
        ({"rfs_date_after": "0000-01-01"}, "Invalid query parameter 'rfs_date_after'"),
        ({"rfs_date_after": "20260101"}, "Invalid query parameter 'rfs_date_after'"),
        ({"rfs_date_after": "yesterday"}, "Invalid query parameter 'rfs_date_after'"),
        # Arabic-Indic digits, which Python reads as digits
        (
            {"rfs_date_after": "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661"},
            "Invalid query parameter 'rfs_date_after'",
        ),
        ({"rfs_date_after": "2026-01-0\u0661"}, "Invalid query parameter 'rfs_date_after'"),
        ({"segments": "S\u0661"}, "Invalid query parameter 'segments'"),
        ({"rfs_date_after": "2026-01-01", "rfs_date_before": "2026-01-01"}, "no date is in that range"),
        ({"communities": "Winson' OR '1'='1"}, "Unknown communities in 'communities': \"Winson' OR '1'='1\""),
        ({"communities": "Winsen"}, "'Winsen' (did you mean 'Winson'?)"),
        ({"communities": ""}, "Invalid query parameter 'communities'"),
        ({"communities": ","}, "Invalid query parameter 'communities': '' should be non-empty"),
        ({"communities": '" ", ""'}, "Invalid query parameter 'communities': '' should be non-empty"),
        ({"communities": '" "'}, "names no community"),
        ({"communities": 'Winson,"Bibury'}, "Invalid query parameter 'communities'"),
        ({"communities": 'Winson,"Bib"ury"'}, "Invalid query parameter 'communities'"),
        ({"communities": "Winson\nBibury"}, "Invalid query parameter 'communities'"),
        ({"communities": "Winson\r"}, "Invalid query parameter 'communities'"),
        ({"communities": "Winson\n"}, "Invalid query parameter 'communities'"),
        ({"segments": "S1\n"}, "Invalid query parameter 'segments'"),
        ({"communities": ",".join(f"Place {n}" for n in range(500))}, "Invalid query parameter 'communities'"),
        ({"colour": "red"}, "Extra query parameter(s) colour not in spec"),
    ],
)
@pytest.mark.parametrize("path", ["/directmail-csv", "/directmail-summary"])
def test_bad_filters_are_400_problems(
    client: TestClient, staff: dict[str, str], path: str, query: dict[str, str], detail: str
) -> None:
    response = client.get(path, params=query, headers=staff)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


@pytest.mark.parametrize("path", ["/directmail-csv", "/directmail-summary"])
def test_many_long_unknown_communities_get_a_short_answer_quoting_a_few(
    client: TestClient, staff: dict[str, str], path: str
) -> None:
    unknown = [f"Nowhere {n:02} {'x' * 180}" for n in range(20)]
    response = client.get(path, params={"communities": ",".join(["Winson", *unknown])}, headers=staff)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Unknown communities in 'communities': 'Nowhere 00 xxx")
    assert "'Nowhere 02 xxx" in detail
    assert "'Nowhere 03" not in detail
    assert "(and 17 more). GET /communities lists them." in detail
    assert len(detail) < 250


@pytest.mark.parametrize(
    "query", ["rfs=false&rfs=true", "bom=true&bom=false", "rfs_date_after=2020-01-01&rfs_date_after=2030-01-01"]
)
def test_a_repeated_single_valued_filter_is_a_400_not_a_guess(
    client: TestClient, staff: dict[str, str], query: str
) -> None:
    response = client.get(f"/directmail-csv?{query}", headers=staff)
    assert response.status_code == 400
    assert "is given 2 times; it takes one value" in response.json()["detail"]


@pytest.mark.parametrize("path", ["//directmail-csv", "//me", "/%2Fme"])
def test_paths_the_spec_does_not_declare_are_404s_even_with_a_token(
    live_server: LiveServer, staff: dict[str, str], path: str
) -> None:
    status, content_type, _body = raw_get(live_server, path, staff)
    assert (status, content_type) == (404, "application/problem+json")


def test_the_trailing_slash_redirect_stays_on_the_services_own_host(live_server: LiveServer) -> None:
    host, port = live_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/me/", headers={"Host": "evil.example"})
    assert connection.getresponse().getheader("location") == "/me"
    connection.close()


def test_undecodable_bytes_are_a_400(client: TestClient, staff: dict[str, str]) -> None:
    response = client.get("/directmail-csv?communities=Winson%FF", headers=staff)
    assert response.status_code == 400
    assert "not UTF-8 once percent-decoded" in response.json()["detail"]


def test_a_client_that_refuses_brotli_gets_none(client: TestClient, staff: dict[str, str]) -> None:
    response = client.get("/directmail-csv", headers=staff | {"Accept-Encoding": "br;q=0"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers


def raw_get(server: LiveServer, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """A GET no client library would refuse to send, however long its URL."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_ten_thousand_names_are_refused_before_any_work(live_server: LiveServer, staff: dict[str, str]) -> None:
    names = ",".join(f"C{n}" for n in range(10_000))  # about 49 KB, commas as they are
    status, content_type, body = raw_get(live_server, f"/directmail-csv?communities={names}", staff)
    assert (status, content_type) == (414, "application/problem+json")
    assert b"the limit is 8192" in body
    # Far past the limit, the HTTP server refuses the request line as it arrives, before the service sees it.
    names = ",".join(f"Community number {n}" for n in range(10_000))
    status, content_type, _body = raw_get(live_server, "/directmail-csv?" + urlencode({"communities": names}), staff)
    assert (status, content_type) == (414, "application/problem+json")


def test_communities_lists_exact_names_with_sizes(client: TestClient, staff: dict[str, str], full_csv: bytes) -> None:
    response = client.get("/communities", headers=staff)
    assert response.status_code == 200
    communities = response.json()
    assert [community["name"] for community in communities] == sorted(COMMUNITY_NAMES)
    assert sum(community["premises"] for community in communities) == DEMO_PREMISES
    rows = rows_of(full_csv)
    for community in communities:
        assert community["premises"] == sum(row["community"] == community["name"] for row in rows)
        assert isinstance(community["rfs"], bool)
        if "rfs_date" in community:
            dt.date.fromisoformat(community["rfs_date"])


@pytest.mark.parametrize("database", [socket_that_refuses, socket_that_never_answers], ids=["refuses", "hangs"])
@pytest.mark.parametrize("path", ["/communities", "/directmail-csv", "/directmail-summary"])
def test_a_database_that_does_not_answer_is_503_not_500(
    make_settings: Callable[..., Settings],
    staff: dict[str, str],
    database: Callable[[], AbstractContextManager[int]],
    path: str,
) -> None:
    with database() as port:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/none"
        with create_app(make_settings(database_url=url, database_timeout_seconds=1)).test_client() as client:
            response = client.get(path, headers=staff)
    assert "database is unavailable" in assert_problem(response, 503, retry_after="10")["detail"]
