"""The production files, checked by reading (issue 7 item 7; R-13): no Docker engine runs here, so
every YAML, JSON, conf and script under deploy/ is parsed, the compose files (the main one and the
province override merged over it) reference only files that exist, every service has a
healthcheck, every vanthu service runs two replicas or more in the province shape, and every queue
the topology declares is a quorum queue that one of the cluster's policies covers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from devstack.processes import DEFAULT_PORTS, SERVICES
from shared.bus import topology

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
MAIN = REPO / "docker-compose.yml"
PROVINCE = DEPLOY / "docker-compose.province.yml"
# Made at install time by the operator (docs/production.md), never in the repository.
MADE_AT_INSTALL = ("deploy/config", "deploy/auth", "deploy/secrets")
# rabbitmq.conf keys newer than the RabbitMQ installed here (3.10), valid in the image's 4.1.
NEWER_RABBITMQ_KEYS = {
    "default_queue_type",
    "quorum_queue.continuous_membership_reconciliation.enabled",
    "quorum_queue.continuous_membership_reconciliation.target_group_size",
}


class Reset(list):
    """Compose's `!reset` (the override empties what the main file set)."""


class ComposeLoader(yaml.SafeLoader):
    pass


ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())
ComposeLoader.add_constructor("!override", lambda loader, node: Reset(loader.construct_sequence(node)))


def load_compose(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=ComposeLoader)


def merge(base, override):
    """Compose's merge, as far as these checks need: mappings key by key; `!reset` replaces;
    command, entrypoint and a healthcheck's test replace; other lists add up."""
    if isinstance(override, Reset):
        return list(override)
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            if key in ("command", "entrypoint", "test") or key not in out:
                out[key] = list(value) if isinstance(value, Reset) else value
            else:
                out[key] = merge(out[key], value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + [v for v in override if v not in base]
    return override


@pytest.fixture(scope="module")
def main() -> dict:
    return load_compose(MAIN)


@pytest.fixture(scope="module")
def province(main) -> dict:
    return merge(main, load_compose(PROVINCE))


def test_every_file_in_deploy_parses():
    checked = 0
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or any(str(path.relative_to(REPO)).startswith(p) for p in MADE_AT_INSTALL):
            continue
        if path.suffix in (".yml", ".yaml"):
            assert isinstance(yaml.load(path.read_text(), Loader=ComposeLoader), dict), path
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".conf" and "rabbitmq" in path.parts:
            assert rabbitmq_conf(path)
        elif path.suffix == ".conf" and "nginx" in path.parts:
            assert_braces_balance(path.read_text())
        elif path.suffix == ".conf":
            yaml.safe_load(path.read_text())  # mongod.conf is YAML
        elif path.suffix == ".sh":
            result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
            assert result.returncode == 0, (path, result.stderr)
        elif path.suffix == ".js":
            if shutil.which("node") is None:
                continue
            result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
            assert result.returncode == 0, (path, result.stderr)
        else:
            continue
        checked += 1
    assert checked >= 12


def referenced_files(compose: dict) -> list[str]:
    files = []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                files.append(source)
        for env_file in ([service["env_file"]] if isinstance(service.get("env_file"), str) else service.get("env_file", [])):
            files.append(env_file)
        if isinstance(service.get("build"), str):
            files.append(service["build"])
    for secret in (compose.get("secrets") or {}).values():
        files.append(secret["file"])
    return files


def test_the_compose_files_reference_only_existing_files(main, province):
    for compose in (main, province):
        for ref in referenced_files(compose):
            relative = str((REPO / ref).resolve().relative_to(REPO))
            if relative.startswith(MADE_AT_INSTALL):
                continue
            assert (REPO / ref).exists(), f"{ref} is referenced but missing"
    # Scripts the containers run are the ones mounted.
    mounted = {v.split(":")[1] for s in province["services"].values() for v in s.get("volumes", []) if isinstance(v, str) and ":" in v}
    for service in province["services"].values():
        entry = service.get("entrypoint") or []
        for arg in entry[1:] if entry[:1] == ["/bin/sh"] else []:
            assert arg in mounted or any(arg.startswith(m.rstrip("/") + "/") for m in mounted), arg


def test_every_service_has_a_healthcheck(main, province):
    for compose in (main, province):
        missing = [name for name, s in compose["services"].items() if not (s.get("healthcheck") or {}).get("test")]
        assert not missing, f"services without a healthcheck: {missing}"


def test_every_vanthu_service_runs_two_replicas_or_more_in_the_province_shape(province):
    for name in SERVICES:
        service = province["services"][name]
        assert service.get("deploy", {}).get("replicas", 1) >= 2, name
        # Two replicas cannot publish the same host port, nor share a fixed container name.
        assert not service.get("ports") and "container_name" not in service, name
        assert {"lb", "rabbitmq", "mongodb"} <= set(service["depends_on"]), name


def test_the_services_reach_each_other_and_the_broker_through_the_load_balancer(province):
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    listens = {int(p) for p in re.findall(r"listen (\d+);", nginx)}
    upstream_hosts = set(re.findall(r"server ([a-z0-9-]+):\d+\s+resolve", nginx))
    assert upstream_hosts <= set(province["services"]), upstream_hosts - set(province["services"])
    for name in SERVICES:
        env = province["services"][name]["environment"]
        for other in SERVICES:
            url = urlparse(env[f"{other.upper()}_URL"])
            assert url.hostname == "lb" and url.port == DEFAULT_PORTS[other] and url.port in listens, (name, other, url)
            assert re.search(rf"server {other}:{DEFAULT_PORTS[other]}\s+resolve", nginx), other
        amqp = urlparse(expand(env["AMQP_URL"]))
        assert amqp.hostname == "lb" and (amqp.port or 5672) in listens
    rabbit_nodes = [n for n in province["services"] if re.fullmatch(r"rabbitmq(-\d)?", n)]
    assert set(re.findall(r"server (rabbitmq[-0-9]*):5672", nginx)) == set(rabbit_nodes)


def expand(value: str) -> str:
    """A compose value with its ${VARIABLES} set to something."""
    return re.sub(r"\$\{[^}]*\}", "secret", value)


def rabbitmq_conf(path: Path) -> dict[str, str]:
    """rabbitmq.conf (sysctl format): `key = value` lines, `#` comments."""
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        assert sep and key.strip() and value.strip(), f"{path}:{number}: {line!r}"
        assert key.strip() not in entries, f"{path}:{number}: {key} twice"
        entries[key.strip()] = value.strip()
    return entries


def installed_rabbitmq_keys() -> list[re.Pattern] | None:
    schemas = list(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins/*/priv/schema/*.schema"))
    if not schemas:
        return None
    mappings = {m for s in schemas for m in re.findall(r'\{mapping, "([^"]+)"', s.read_text(errors="replace"))}
    # `$name`, `$node`… in a mapping stand for any one segment.
    return [re.compile(re.sub(r"\\\$\w+", "[^.]+", re.escape(m))) for m in mappings]


def test_the_rabbitmq_cluster_has_three_nodes_and_quorum_queues_by_default(province):
    conf = rabbitmq_conf(DEPLOY / "rabbitmq" / "rabbitmq.conf")
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    peers = {v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes.")}
    names = {s["environment"]["RABBITMQ_NODENAME"] for n, s in province["services"].items() if re.fullmatch(r"rabbitmq(-\d)?", n)}
    assert len(peers) == 3 and peers == names
    assert conf["default_queue_type"] == "quorum"
    assert conf["cluster_partition_handling"] == "pause_minority"
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    # Every node shares the cookie secret; the keys are RabbitMQ's own (checked against the
    # schema of the RabbitMQ installed here when there is one).
    for name in names:
        node = province["services"][name.split("@")[1]]
        assert node["secrets"] == ["rabbitmq_erlang_cookie"] and node["hostname"] == name.split("@")[1]
    known = installed_rabbitmq_keys()
    if known is not None:
        unknown = [k for k in conf if k not in NEWER_RABBITMQ_KEYS and not any(p.fullmatch(k) for p in known)]
        assert not unknown, f"not RabbitMQ settings: {unknown}"


def all_queue_names() -> list[str]:
    names = [topology.delay_queue_name(s) for s in topology.DELAY_TIERS]
    for spec in topology.TOPOLOGY.queues:
        names += [q for q, _ in spec.lanes] + [spec.dead_letter_queue]
    return names


def test_every_queue_is_quorum_and_covered_by_one_policy():
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
    assert [v["metadata"]["default_queue_type"] for v in definitions["vhosts"]] == ["quorum"]
    policies = definitions["policies"]
    assert policies and all(p["apply-to"] == "quorum_queues" for p in policies)
    for name in all_queue_names():
        matching = [p["name"] for p in policies if re.fullmatch(p["pattern"], name)]
        assert len(matching) == 1, (name, matching)
    assert not any(re.fullmatch(p["pattern"], "amq.gen-123") for p in policies)
    # The topology itself declares them quorum (the policies only tune them).
    for spec in topology.TOPOLOGY.queues:
        arguments = topology._work_queue_arguments(spec)
        assert arguments["x-queue-type"] == "quorum"
        work = next(p for p in policies if p["name"] == "vanthu-work")
        assert work["definition"]["delivery-limit"] == arguments["x-delivery-limit"]


def test_the_mongodb_replica_set_has_three_members_with_keyfile_auth_and_majority(province):
    conf = yaml.safe_load((DEPLOY / "mongodb" / "mongod.conf").read_text())
    assert conf["security"]["authorization"] == "enabled" and conf["security"]["keyFile"]
    members = sorted(n for n in province["services"] if re.fullmatch(r"mongodb(-\d)?", n))
    assert len(members) == 3
    script = (DEPLOY / "mongodb" / "init-replica-set.js").read_text()
    assert sorted(re.findall(r'"(mongodb[-0-9]*):27017"', script)) == members
    assert f'_id: "{conf["replication"]["replSetName"]}"' in script
    assert "setDefaultRWConcern" in script and 'w: "majority"' in script and 'level: "majority"' in script
    url = urlparse(expand(province["services"]["intake"]["environment"]["MONGODB_URL"]))
    hosts = sorted(h.split(":")[0] for h in url.netloc.split("@")[1].split(","))
    assert hosts == members
    query = dict(p.split("=") for p in url.query.split("&"))
    assert query["replicaSet"] == conf["replication"]["replSetName"] and query["w"] == "majority"
    for name in members:
        member = province["services"][name]
        assert "mongodb_keyfile" in member["secrets"] and member["hostname"] == name
    assert "init-replica-set.js" in " ".join(province["services"]["mongodb"]["healthcheck"]["test"])


def test_prometheus_scrapes_every_replica_in_the_province_shape():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.province.yml").read_text())
    [vanthu] = [job for job in config["scrape_configs"] if job["job_name"] == "vanthu"]
    targets = {(sd["names"][0], sd["port"]) for sd in vanthu["dns_sd_configs"]}
    assert targets == set(DEFAULT_PORTS.items())


def assert_braces_balance(text: str) -> None:
    depth = 0
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        depth += line.count("{") - line.count("}")
        assert depth >= 0, line
    assert depth == 0
