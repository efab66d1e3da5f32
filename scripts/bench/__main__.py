"""`make bench`: every figure beside its reference, measured in this run, in one table (printed, written
under var/bench/ and copied into the README).

    PYTHONPATH=. .venv/bin/python -m scripts.bench
"""

from __future__ import annotations

from functools import partial

from config import PROJECT_ROOT, Settings
from scripts.bench import csv_exports, json_endpoints, load
from scripts.bench.figures import Figure, markdown, printed, update_readme, write
from scripts.bench.servers import our_service, reference_app
from servicekit import load_settings
from servicekit.auth.dev_login import mint_dev_token
from servicekit.testing import FakeApmServer


def main() -> None:
    database_url = csv_exports.bench_database()
    csv_exports.lay_out(database_url, csv_exports.ARRIVAL)
    token = mint_dev_token(load_settings(Settings, environment="local"), roles=["Directmail.Read"], expires_in=3600)
    found: list[Figure] = []
    # Ten slots (and threads to spare) for the ten exports at once, all of them one token's; the rest runs
    # on the default settings.
    exports = {
        "EXPORT_CONCURRENCY": "10",
        "EXPORT_CONCURRENCY_PER_CALLER": "10",
        "WORKER_THREADS": "16",
        "LOG_LEVEL": "WARNING",
    }
    with our_service(database_url, **exports) as (url, _):
        found += csv_exports.one_at_a_time(url, database_url, token, csv_exports.ARRIVAL)
    with our_service(database_url, **exports) as (url, pid):
        found += csv_exports.many_at_once(url, pid, database_url, token)
    apm = FakeApmServer()  # logging, validation and APM all on, as deployed
    try:
        with (
            our_service(database_url, ELASTIC_APM_SERVER_URL=apm.url) as (url, _),
            reference_app(database_url) as reference_url,
        ):
            downloads = partial(csv_exports.downloads_in_flight, url, token)
            found += json_endpoints.figures(url, reference_url, token, downloads)
            found += json_endpoints.summary_figures(url, reference_url, token, json_endpoints.SUMMARIES_KEPT)
            load_report = load.run(url, token)
        found += json_endpoints.summaries_counted_afresh(database_url, token, ELASTIC_APM_SERVER_URL=apm.url)
    finally:
        apm.stop()
    for layout in csv_exports.LAYOUTS[1:]:
        csv_exports.lay_out(database_url, layout)
        with our_service(database_url, **exports) as (url, _):
            found += csv_exports.one_at_a_time(url, database_url, token, layout)
    print(printed(found))
    print(load.printed(load_report))
    postgresql = csv_exports.postgresql_version(database_url)
    write(found, PROJECT_ROOT / "var" / "bench", postgresql, {"load_test": load_report})
    update_readme(PROJECT_ROOT / "README.md", markdown(found))


if __name__ == "__main__":
    main()
