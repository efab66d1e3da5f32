"""What the service's containers talk to, as containers of the same engine: PostGIS (the image compose and
CI use), a streaming replica of it, and a tenant's signing keys served over HTTP as Entra ID serves them.
Each listens on the engine host's network, on a port of its own."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.containers.engine import Engine, EngineError
from servicekit.testing import FakeEntra

POSTGIS = "docker.io/postgis/postgis:15-3.5"
PASSWORD = "image-check-only"  # a throwaway server's, reachable from this host alone


@dataclass(frozen=True)
class Database:
    engine: Engine
    name: str
    port: int

    def url(self) -> str:
        """As the service's containers, on the same host network, reach it."""
        return f"postgresql://directmail:{PASSWORD}@127.0.0.1:{self.port}/directmail"

    def wait_until_ready(self, seconds: float = 90) -> Database:
        """Until it answers a query over TCP: while the image initialises, its server listens on a socket only."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._accepts_queries():
                return self
            if not self.engine.inspect(self.name)["State"]["Running"]:
                raise EngineError(f"{self.name} exited: {self.engine('logs', '--tail=20', self.name, check=False)}")
            time.sleep(0.5)
        raise EngineError(f"{self.name}: PostgreSQL not ready in {seconds:.0f} s")

    def _accepts_queries(self) -> bool:
        query = ["exec", self.name, "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "directmail"]
        return self.engine(*query, "-d", "directmail", "-tAc", "select 1", check=False) == "1"


def start_postgis(engine: Engine, name: str, port: int) -> Database:
    """A PostGIS primary that lets replicas connect, as docker-compose.test.yml's does."""
    engine.run(
        name,
        POSTGIS,
        "postgres",
        "-c",
        f"port={port}",
        env={"POSTGRES_USER": "directmail", "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "directmail"},
        options=["--shm-size=256m", "--tmpfs=/var/lib/postgresql/data"],
    )
    database = Database(engine, name, port).wait_until_ready()
    # A replication connection matches no `all` database line of the image's pg_hba.conf.
    allow = 'echo "host replication all 127.0.0.1/32 scram-sha-256" >> "$PGDATA/pg_hba.conf" && pg_ctl reload'
    engine("exec", "--user=postgres", name, "bash", "-c", allow)
    return database


def start_replica(engine: Engine, name: str, primary: Database, port: int) -> Database:
    """A hot standby of `primary`: pg_basebackup, then streaming, as scripts/compose/start-replica.sh makes one."""
    # Started again after a stop, it follows the primary from the copy it already has.
    copy = (
        "[ -s /tmp/replica/PG_VERSION ] || { install -d -o postgres -g postgres -m 700 /tmp/replica && "
        f"PGPASSWORD={PASSWORD} gosu postgres pg_basebackup -h 127.0.0.1 -p {primary.port} -U directmail "
        "-D /tmp/replica -R -X stream -c fast; } && "
        f"exec gosu postgres postgres -D /tmp/replica -c port={port} -c hot_standby=on"
    )
    engine.run(name, POSTGIS, "-c", copy, options=["--entrypoint=bash", "--shm-size=256m"])
    return Database(engine, name, port).wait_until_ready()


@dataclass
class SigningKeys:
    """The fake tenant's keys, published at `jwks_url` by a container serving a folder over HTTP, and the
    tokens signed with them. Served from a container, not from this process, so that a remote Docker
    engine's containers reach it too."""

    engine: Engine
    image: str
    name: str
    port: int
    entra: FakeEntra

    def start(self) -> SigningKeys:
        serve = ["python", "-m", "http.server", str(self.port), "--directory", "/tmp/keys"]
        self.engine("rm", "--force", self.name, check=False)
        self.engine("create", f"--name={self.name}", "--network=host", "--entrypoint=", self.image, *serve)
        with tempfile.TemporaryDirectory() as folder:
            keys = Path(folder, "keys", self.entra.tenant, "discovery", "v2.0", "keys")
            keys.parent.mkdir(parents=True)
            keys.write_text(json.dumps({"keys": [key.jwk() for key in self.entra.keys]}))
            published = Path(folder, "keys")
            for path in (published, *published.rglob("*")):
                path.chmod(0o755)  # readable by the image's user, who serves them
            self.engine("cp", str(published), f"{self.name}:/tmp/keys")
        self.engine("start", self.name)
        self.engine.wait_until_answering(self.engine.url(self.port), self.name)
        return self

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.entra.tenant}/discovery/v2.0/keys"

    def settings(self) -> dict[str, str]:
        """The environment that makes the service trust these keys' tokens."""
        trusted = self.entra.trusted_by() | {"auth_jwks_url": self.jwks_url}
        return {name.upper(): str(value) for name, value in trusted.items()}

    def token(self, *roles: str) -> str:
        return self.entra.make_token(roles=list(roles))


def service_environment(
    database: Database, keys: SigningKeys, port: int, replica: Database | None = None, **settings: object
) -> dict[str, str]:
    """The image's environment (production, as it sets itself) against these peers, listening on `port`."""
    environment = {"DATABASE_URL": database.url(), "PORT": str(port), **keys.settings()}
    if replica is not None:
        environment["DATABASE_READ_URL"] = replica.url()
    return environment | {name.upper(): str(value) for name, value in settings.items()}


def migrate_and_seed(engine: Engine, image: str, environment: dict[str, str], premises: int) -> None:
    """`run.py migrate` locked down as deploy/'s Job runs it, then the demo data (seed-demo runs in local only)."""
    steps = (
        (["migrate"], environment),
        (["seed-demo", f"--premises={premises}"], environment | {"ENVIRONMENT": "local"}),
    )
    for command, env in steps:
        done = engine.run_to_end(image, *command, env=env, options=engine.locked_down)
        if done.returncode != 0:
            raise EngineError(f"run.py {command[0]} exited {done.returncode}: {(done.stderr or done.stdout)[-2000:]}")
