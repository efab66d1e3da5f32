"""`make rehearse`: a rolling deployment and a replica outage, rehearsed under load.

Three containers of the runtime image, each locked down as deploy/ runs it and set as production's
settings.env sets it (a 15 s drain), serve behind HAProxy (checks on /readyz), reading a PostGIS primary
and its streaming replica. While probes, summaries and downloads run through the balancer, each container
is stopped (SIGTERM, then up to deploy/'s grace period) and started again in turn, the next once the
balancer has it back; then the replica stops for 30 s, through which every container stays in the pool
(/readyz does not fail for a database) and answers reads with its own 503. The report: each phase's
outcomes, each container's drain, and the balancer's view. docs/operations.md quotes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import yaml

from config import PROJECT_ROOT
from scripts.containers.engine import RUNTIME_IMAGE, Engine, EngineError, free_port, run_check
from scripts.containers.load import Load, Tally, whole_download
from scripts.containers.load_balancer import Balancer
from scripts.containers.peers import (
    Database,
    SigningKeys,
    migrate_and_seed,
    service_environment,
    start_postgis,
    start_replica,
)
from servicekit.middleware.probes import DRAINING_REASON
from servicekit.problems import DATABASE_UNAVAILABLE_DETAIL
from servicekit.testing import FakeEntra

SERVICES = 3
PREMISES = 100_000
DEPLOY = PROJECT_ROOT / "deploy" / "base"
STEADY_SECONDS = 10
REPLICA_OUTAGE_SECONDS = 30


def production_shutdown() -> dict[str, str]:
    """deploy/'s SHUTDOWN_* settings, as the ConfigMap gives them to every pod."""
    lines = (line.partition("=") for line in (DEPLOY / "settings.env").read_text().splitlines())
    return {name: value for name, _, value in lines if name.startswith("SHUTDOWN_")}


def grace_seconds() -> int:
    """deploy/'s terminationGracePeriodSeconds: how long a stop waits before it kills."""
    deployment = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())
    return int(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])


def say(line: str) -> None:
    print(f"rehearse: {line}", flush=True)


def roll(engine: Engine, balancer: Balancer, names: list[str]) -> list[tuple[str, float, float]]:
    """Each container stopped and started in turn; how long each took to exit and to be back in the pool."""
    timings = []
    for name in names:
        stopping = time.monotonic()
        engine("stop", f"--time={grace_seconds()}", name, timeout=grace_seconds() + 30)
        drained = time.monotonic() - stopping
        exit_code = engine.inspect(name)["State"]["ExitCode"]
        engine("start", name)
        if not balancer.all_up(120):
            raise EngineError(f"{name} did not come back into the balancer's pool")
        back = time.monotonic() - stopping
        say(f"{name}: exited {exit_code} {drained:.1f} s after SIGTERM, back in the pool after {back:.1f} s")
        timings.append((name, drained, back))
    return timings


def replica_outage(engine: Engine, replica: Database) -> float:
    """The replica stopped for REPLICA_OUTAGE_SECONDS; how long after its start it answered queries again
    (the services need nothing: their next read reconnects)."""
    engine("stop", "--time=10", replica.name)
    time.sleep(REPLICA_OUTAGE_SECONDS)
    started = time.monotonic()
    engine("start", replica.name)
    replica.wait_until_ready()
    return time.monotonic() - started


def in_phase(tally: Tally, phase: str, action: Callable[[], object]) -> object:
    tally.phase = phase
    say(f"phase: {phase}")
    started = time.monotonic()
    result = action()
    say(f"phase: {phase}: ended after {time.monotonic() - started:.0f} s")
    return result


def report(tally: Tally, balancer: Balancer, began: float) -> None:
    say("outcomes (phase: kind: outcome count):")
    for key, outcomes in sorted(tally.outcomes.items()):
        print(f"  {key}: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items())))
    say("the balancer saw (seconds from the start: server state):")
    for when, server, status in balancer.transitions:
        if when >= began:
            print(f"  {when - began:6.1f} {server} {status}")
    stats = balancer.stats()
    backend = stats["BACKEND"]
    say(
        f"balancer totals: {backend['stot']} sessions, retries {backend['wretr']}, redispatches {backend['wredis']}, "
        f"5xx {backend['hrsp_5xx']} (the containers' own 503s, and any of its own while its pool was empty)"
    )


# A draining container's own /readyz says so until the balancer stops asking it: that is the drain working.
DRAINING = f"503 ({DRAINING_REASON})"
# What a container answers a read while the replica is lost: its own problem, not the balancer's page.
REPLICA_LOST = f"503 ({DATABASE_UNAVAILABLE_DETAIL})"


def verdict(tally: Tally) -> list[str]:
    """What failed the rehearsal's goals: any clean but short download; any probe or summary that did not
    succeed, but for the reads the lost replica's containers refused themselves; any request the balancer
    answered itself while the replica was lost (every container must stay in the pool)."""
    failures = []
    for key, outcomes in sorted(tally.outcomes.items()):
        phase, kind = key.split(": ", 1)
        if outcomes["short"]:
            failures.append(f"{key}: {outcomes['short']} downloads ended cleanly but short")
        tolerated = {"ok", DRAINING} | ({REPLICA_LOST} if phase == "replica outage" else set())
        lost = sum(count for outcome, count in outcomes.items() if outcome not in tolerated)
        if kind != "download" and lost:
            failures.append(f"{key}: {lost} failed")
        from_balancer = sum(count for outcome, count in outcomes.items() if "from the balancer" in outcome)
        if phase == "replica outage" and from_balancer:
            failures.append(f"{key}: {from_balancer} answered by the balancer, its pool empty")
    return failures


def main() -> int:
    engine = Engine.ready("haproxy")
    say(f"built {RUNTIME_IMAGE} in {engine.build(RUNTIME_IMAGE):.0f} s")
    with engine.containers("directmail-rehearse") as named:
        primary = start_postgis(engine, named("db"), free_port())
        replica = start_replica(engine, named("replica"), primary, free_port())
        keys = SigningKeys(engine, RUNTIME_IMAGE, named("keys"), free_port(), FakeEntra()).start()
        settings = production_shutdown()
        migrate_and_seed(engine, RUNTIME_IMAGE, service_environment(primary, keys, free_port(), replica), PREMISES)
        servers = {}
        for index in range(1, SERVICES + 1):
            port = free_port()
            environment = service_environment(primary, keys, port, replica, **settings)
            name = named(f"app-{index}")
            engine.run(name, RUNTIME_IMAGE, env=environment, options=engine.locked_down)
            servers[name] = f"{engine.host}:{port}"
        balancer = Balancer(free_port(), servers).start()
        try:
            if not balancer.all_up(120):
                raise EngineError("the services never all passed the balancer's checks")
            token = keys.token("Directmail.Read")
            tally = Tally()
            began = time.monotonic()
            load = Load(balancer.url, token, whole_download(balancer.url, token), tally).start()
            in_phase(tally, "steady", lambda: time.sleep(STEADY_SECONDS))
            in_phase(tally, "rolling restart", lambda: roll(engine, balancer, list(servers)))
            in_phase(tally, "after the roll", lambda: time.sleep(STEADY_SECONDS))
            back = in_phase(tally, "replica outage", lambda: replica_outage(engine, replica))
            say(f"the replica answered queries {back:.1f} s after it started again")
            in_phase(tally, "after the outage", lambda: time.sleep(STEADY_SECONDS))
            load.stop()
            report(tally, balancer, began)
        finally:
            balancer.stop()
    failures = verdict(tally)
    for failure in failures:
        say(f"MISSED: {failure}")
    if not failures:
        say(
            "goals met: every container stayed in the pool through the replica outage, no summary or probe"
            " failed but the reads the lost replica's containers refused themselves, no download ended short"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    run_check("rehearse", main)
