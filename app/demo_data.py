"""A deterministic, plausible demo data set: rural English and Welsh communities and their premises.

The same `premises` count always gives the same rows, so demos, tests and benchmarks are repeatable.
Names carry accents, apostrophes and commas; a few addresses start like spreadsheet formulas, as
hostile or careless data in the real world does, so the export's defences are always exercised.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, select

from app.models import SEGMENTS, Community, Premises
from app.table_upkeep import vacuum_analyse
from servicekit.database import psycopg_connection

SEED = 20261127
DEMO_TABLES = (Premises.__tablename__, Community.__tablename__)
FIRST_UPRN = 10_000_000_001

# (friendly name, post town, postcode area and district, grid easting, grid northing)
PLACES = [
    ("Winson", "Cirencester", "GL7 5", 409000, 208400),
    ("Ampney Crucis", "Cirencester", "GL7 5", 406500, 201900),
    ("Coln St. Aldwyns", "Cirencester", "GL7 5", 414500, 205200),
    ("Bibury", "Cirencester", "GL7 5", 411500, 206500),
    ("Lower Slaughter", "Cheltenham", "GL54 2", 416500, 222500),
    ("Great Rissington", "Cheltenham", "GL54 2", 419700, 217400),
    ("Stow-on-the-Wold", "Cheltenham", "GL54 1", 419100, 225700),
    ("Ashton Keynes, Wiltshire", "Swindon", "SN6 6", 404300, 194300),
    ("Nether Wallop", "Stockbridge", "SO20 8", 430300, 136500),
    ("Stoke St. Gregory", "Taunton", "TA3 6", 334600, 126900),
    ("Bishop's Castle", "Bishop's Castle", "SY9 5", 332300, 288800),
    ("Much Wenlock", "Much Wenlock", "TF13 6", 362300, 299800),
    ("King's Sutton", "Banbury", "OX17 3", 449800, 236200),
    ("St Mary's Bay", "Romney Marsh", "TN29 0", 608900, 127900),
    ("Chipping Campden", "Chipping Campden", "GL55 6", 415200, 239100),
    ("Llanfair Caereinion", "Welshpool", "SY21 0", 310400, 306300),
    ("Llanfihangel-yng-Ngwynfa", "Llanfyllin", "SY22 5", 308100, 316700),
    ("Llanbrynmair", "Llanbrynmair", "SY19 7", 289800, 302800),
    ("Dinas Mawddwy", "Machynlleth", "SY20 9", 285800, 314900),
    ("Ysbyty Ystwyth", "Ystrad Meurig", "SY25 6", 273700, 271600),
    ("Pontrhydfendigaid", "Ystrad Meurig", "SY25 6", 273100, 266600),
    ("Llanddewi Brefi", "Tregaron", "SY25 6", 266300, 255300),
    ("Betws-y-Coed", "Betws-y-Coed", "LL24 0", 279500, 356500),
    ("Cwm-y-glo", "Caernarfon", "LL55 4", 255300, 362400),
    ("Nant Peris", "Caernarfon", "LL55 4", 260600, 358300),
    ("Tŷ Croes", "Ty Croes", "LL63 5", 234700, 372500),
    ("Llanfair-ym-Muallt", "Llanfair-ym-Muallt", "LD2 3", 304600, 251300),
    ("Llanwrtyd", "Llanwrtyd Wells", "LD5 4", 287800, 246700),
    ("Rhosllannerchrugog", "Wrexham", "LL14 1", 329300, 346500),
    ("Gwernymynydd", "Mold", "CH7 4", 321300, 362600),
    ("Llansanffraid Glan Conwy", "Colwyn Bay", "LL28 5", 280200, 375700),
    ("Maenclochog", "Clunderwen", "SA66 7", 208300, 227200),
    ("Trefdraeth", "Newport", "SA42 0", 205800, 239300),
    ("Llanbedr Pont Steffan", "Llanbedr Pont Steffan", "SA48 7", 257700, 248100),
    ("Aberdaron", "Pwllheli", "LL53 8", 217300, 326400),
    ("Pen-y-cae", "Swansea", "SA9 1", 284300, 213500),
    ("Ffestiniog", "Blaenau Ffestiniog", "LL41 4", 270300, 341800),
    ("Cerrigydrudion", "Corwen", "LL21 9", 295300, 348800),
    ("Llanarmon Dyffryn Ceiriog", "Llangollen", "LL20 7", 315700, 332800),
    ("Pentrefoelas", "Betws-y-Coed", "LL24 0", 287400, 351400),
    ("Llanuwchllyn", "Bala", "LL23 7", 287500, 330500),
    ("Rhydymain", "Dolgellau", "LL40 2", 280300, 321800),
    ("Bwlch-llan", "Lampeter", "SA48 8", 257800, 258500),
    ("Cwmystwyth", "Aberystwyth", "SY23 4", 278900, 273800),
    ("Devil's Bridge", "Aberystwyth", "SY23 4", 274100, 276900),
    ("Llanfihangel Rhos-y-Corn", "Carmarthen", "SA32 7", 252300, 234300),
    ("Sant Ffraid", "Llanfyllin", "SY22 6", 322900, 320300),
    ("Llanerfyl", "Welshpool", "SY21 0", 303400, 309800),
    ("Bryn-crug", "Tywyn", "LL36 9", 260700, 303300),
    ("Cei Newydd", "New Quay", "SA45 9", 238900, 259900),
]
STREETS = [
    "Heol y Bont",
    "Ffordd yr Orsaf",
    "Stryd Fawr",
    "Lôn Goch",
    "Maes-yr-Haf",
    "Bryn Teg",
    "Church Lane",
    "Mill Road",
    "The Green",
    "Chapel Row",
    "Station Road",
    "Back Lane",
    "High Street",
    "School Lane",
]
HOUSE_NAMES = [
    "Tŷ Gwyn",
    "Bryn Awel",
    "Hafod",
    "Glan-yr-Afon",
    "The Old Forge",
    "Rose Cottage",
    "Ysgubor Fach",
    "Pen-y-Bryn",
    "Y Bwthyn",
    "Orchard House",
    "Gwêl-y-Môr",
    "Bron Haul",
    "The Old Rectory",
    "Llwyn Onn",
]
LOCALITIES = ["", "", "", "Cwm Isaf", "Upper Town", "Pentre", "Nant-y-Ffin", "Lower End"]
# Cells that a spreadsheet would run as formulas, as they turn up in real address data.
FORMULA_CELLS = ['=HYPERLINK("http://example.invalid","Click")', "+44 1234 567890", "-Flat 2", "@Home"]
SEGMENT_WEIGHTS = [0.15, 0.3, 0.25, 0.2, 0.1]


@dataclass(frozen=True)
class DemoPremises:
    uprn: int
    address_line_1: str
    address_line_2: str | None
    address_line_3: str | None
    town: str
    postcode: str
    business: bool
    bduk: bool
    segment: str
    community_id: int
    location: str


def demo_communities() -> list[dict[str, object]]:
    rng = random.Random(SEED)  # noqa: S311 (repeatable demo data, not secrets)
    communities = []
    for community_id, (name, _town, _district, easting, northing) in enumerate(PLACES, start=1):
        rfs = rng.random() < 0.6
        if rfs:
            rfs_date: dt.date | None = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(11 * 365))
        else:
            rfs_date = dt.date(2027, 1, 1) + dt.timedelta(days=rng.randrange(700)) if rng.random() < 0.5 else None
        communities.append(
            {
                "id": community_id,
                "salesforce_id": f"a0B8d00000{community_id:08d}",
                "name": name,
                "rfs": rfs,
                "rfs_date": rfs_date,
                "boundary": _square(easting, northing, 1500),
            }
        )
    return communities


def demo_premises(count: int) -> Iterator[DemoPremises]:
    rng = random.Random(SEED + count)  # noqa: S311 (repeatable demo data, not secrets)
    weights = [rng.uniform(0.3, 3.0) for _ in PLACES]
    for offset in range(count):
        community_id = rng.choices(range(1, len(PLACES) + 1), weights)[0]
        _name, town, district, easting, northing = PLACES[community_id - 1]
        uprn = FIRST_UPRN + offset
        yield DemoPremises(
            uprn=uprn,
            address_line_1=_address_line(rng),
            address_line_2=rng.choice(LOCALITIES) or None,
            address_line_3=FORMULA_CELLS[uprn % len(FORMULA_CELLS)] if uprn % 997 == 0 else None,
            town=town,
            postcode=f"{district}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            business=rng.random() < 0.08,
            bduk=rng.random() < 0.35,
            segment=rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0],
            community_id=community_id,
            location=_point(easting + rng.randrange(-1400, 1400), northing + rng.randrange(-1400, 1400)),
        )


def seed_demo(engine: Engine, premises: int, *, if_empty: bool = False) -> bool:
    """Replace all communities and premises with the demo set of `premises` premises, in one transaction,
    then vacuum and analyse them. `if_empty`: only when there are no premises yet. Returns whether it seeded."""
    with engine.begin() as connection:
        if if_empty and has_premises(connection):
            return False
        _replace(connection, premises)
    # Statistics for what was just written: without them the planner guesses the tables' sizes, and may
    # plan a mailing list no better than a sort of every row. The visibility map VACUUM sets lets an
    # index walk skip the heap.
    vacuum_analyse(engine, DEMO_TABLES)
    return True


def _replace(connection: Connection, premises: int) -> None:
    _empty(connection)
    connection.execute(insert(Community), demo_communities())
    _continue_community_ids(connection)
    rows = demo_premises(premises)
    if connection.dialect.name == "postgresql":
        _copy_premises(connection, rows)
    else:
        _insert_premises(connection, rows)


def _empty(connection: Connection) -> None:
    """On PostgreSQL, TRUNCATE: a DELETE would leave every old row behind as a dead one, for the export to
    walk past until a vacuum. No CASCADE: a table of someone else's pointing at these makes it fail rather
    than empty that table too."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"TRUNCATE {', '.join(DEMO_TABLES)}")
        return
    connection.execute(delete(Premises))
    connection.execute(delete(Community))


def has_premises(connection: Connection) -> bool:
    return bool(connection.scalar(select(func.count()).select_from(Premises)))


def _continue_community_ids(connection: Connection) -> None:
    """The demo communities bring their own ids, which PostgreSQL's id sequence never handed out: moved past
    them, it gives the next community inserted without an id a free one. (SQLite takes the highest id plus
    one by itself.)"""
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(Community.__tablename__, "id")
        connection.execute(select(func.setval(sequence, func.coalesce(func.max(Community.id), 0) + 1, False)))


def _copy_premises(connection: Connection, rows: Iterator[DemoPremises]) -> None:
    """COPY is PostgreSQL's bulk path: a million rows in seconds rather than minutes."""
    columns = ", ".join(DemoPremises.__dataclass_fields__)
    with (
        psycopg_connection(connection).cursor() as cursor,
        cursor.copy(f"COPY premises ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(tuple(row.__dict__.values()))


def _insert_premises(connection: Connection, rows: Iterator[DemoPremises], batch: int = 5000) -> None:
    pending: list[dict[str, object]] = []
    for row in rows:
        pending.append(row.__dict__)
        if len(pending) == batch:
            connection.execute(insert(Premises), pending)
            pending = []
    if pending:
        connection.execute(insert(Premises), pending)


def _address_line(rng: random.Random) -> str:
    number = rng.randrange(1, 120)
    street = rng.choice(STREETS)
    if rng.random() < 0.3:
        return f"{rng.choice(HOUSE_NAMES)}, {number} {street}"
    return f"{number} {street}"


def _point(easting: int, northing: int) -> str:
    return f"SRID=27700;POINT({easting} {northing})"


def _square(easting: int, northing: int, half_side: int) -> str:
    west, east, south, north = easting - half_side, easting + half_side, northing - half_side, northing + half_side
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    return f"SRID=27700;MULTIPOLYGON((({ring})))"
