#!/usr/bin/env python3
"""Tests of what deploy/ ships, against the real binary and a real Prometheus.

- the recording and alerting rules (promtool check rules, promtool test rules);
- every environment variable and port in the Kubernetes manifests is one the binary accepts;
- a real Prometheus (Debian's package) scrapes the exporter on 127.0.0.1 every second: up, active 0 -> 1 -> 0,
  the recording rules, no scrape errors;
- the release binary runs in an empty chroot holding only the libraries the runtime image has, as uid 1000.

Run by `make test` (with Debian's python3 in .build/deploy-venv, which adds kubernetes-validate); prints "N passed, N failed" last.
"""

import json
import re
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBUG_BINARY = os.path.join(ROOT, ".build", "debug", "claude-metrics-exporter")
RELEASE_BINARY = os.path.join(ROOT, ".build", "release", "claude-metrics-exporter")
DEPLOY = os.path.join(ROOT, "deploy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout=30, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = condition()
            if last:
                return last
        except (OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(interval)
    return last


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def sample(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def stop(process):
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sidecar():
    with open(os.path.join(DEPLOY, "kubernetes", "sidecar-patch.yaml")) as f:
        patch = yaml.safe_load(f)
    pod = patch["spec"]["template"]
    # A native sidecar: an init container that keeps running.
    containers = [c for c in pod["spec"]["initContainers"] if c["name"] == "claude-metrics-exporter"]
    return pod, containers[0]


def start_exporter(home, port, pod):
    """The debug binary on `home`/.claude, port `port`, as pod `pod`, with a 6 s idle timeout."""
    env = dict(os.environ, CLAUDE_DIR=os.path.join(home, ".claude"), HAPPY_DIR=os.path.join(home, ".happy"),
               METRICS_PORT=str(port), LISTEN_ADDRESS="127.0.0.1", POD_NAME=pod, REPOSITORY_NAME="repo",
               IDLE_TIMEOUT_MINUTES="0.1", LOG_LEVEL="warning")
    return subprocess.Popen([DEBUG_BINARY], env=env, stderr=subprocess.DEVNULL)


DASHBOARD = os.path.join(DEPLOY, "grafana", "claude-metrics-exporter.json")


def dashboard_queries(pod, repository):
    """Every panel's queries, with the dashboard's variables filled in as Grafana would for one pod."""
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    queries = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expression = (target["expr"].replace("$pod", pod).replace("$repository", repository)
                          .replace("$__rate_interval", "1m"))
            queries.append((f'{panel["title"]} ({target["refId"]})', expression))
    return queries


class DashboardTests(unittest.TestCase):
    """The Grafana dashboard is the dashboard model Grafana imports (its queries run in PrometheusEndToEnd)."""

    def test_dashboard_model(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        self.assertTrue(dashboard["title"] and dashboard["uid"])
        self.assertIsInstance(dashboard["schemaVersion"], int)
        self.assertGreaterEqual(dashboard["schemaVersion"], 36)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual((variables["datasource"]["type"], variables["datasource"]["query"]), ("datasource", "prometheus"))
        for name in ("pod", "repository"):
            self.assertEqual(variables[name]["type"], "query")
            self.assertEqual(variables[name]["datasource"], {"type": "prometheus", "uid": "${datasource}"})
            self.assertIn(f", {name})", variables[name]["query"]["query"])
            self.assertTrue(variables[name]["includeAll"] and variables[name]["allValue"] == ".*")
        ids = [panel["id"] for panel in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        covered = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
        for metric in ("claude_session_active", "claude_sessions_total", "claude_minutes_since_last_activity",
                       "claude_agent_sessions", "claude_exporter_watches", "claude_exporter_inotify_overflows_total",
                       "claude_exporter_scan_duration_seconds", "process_resident_memory_bytes"):
            self.assertIn(metric, covered, f"no panel shows {metric}")
        for panel in dashboard["panels"]:
            self.assertIn(panel["type"], {"stat", "timeseries", "bargauge", "state-timeline"}, panel["title"])
            grid = panel["gridPos"]
            self.assertTrue(all(isinstance(grid[k], int) for k in "hwxy"), panel["title"])
            self.assertLessEqual(grid["x"] + grid["w"], 24, panel["title"])
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"}, panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assertTrue(target["refId"] and target["expr"], panel["title"])
                # Only the dashboard's own variables and Grafana's rate interval.
                leftover = re.sub(r"\$(pod|repository|__rate_interval)\b", "", target["expr"])
                self.assertNotIn("$", leftover, panel["title"])


def start_prometheus(work, targets):
    """A real Prometheus on 127.0.0.1 scraping `targets` every second with the shipped rules; returns the
    process and a function that evaluates an instant query (the first sample's value, or None)."""
    port = free_port()
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [os.path.join(DEPLOY, "prometheus", "rules.yaml")],
            "scrape_configs": [{"job_name": "claude-agent", "static_configs": [{"targets": targets}]}],
        }, f)
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={os.path.join(work, 'data')}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(expression):
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        result = json.loads(get(url)[1])["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    return process, query, port


class RulesTests(unittest.TestCase):
    def test_rules_check_and_unit_tests(self):
        rules = os.path.join(DEPLOY, "prometheus")
        # The exporter's rules, and the dated example that turns token counters into cost.
        for name in ("rules", "cost-rules"):
            check = subprocess.run(["promtool", "check", "rules", f"{name}.yaml"], cwd=rules, capture_output=True,
                                   text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            test = subprocess.run(["promtool", "test", "rules", f"{name}_test.yaml"], cwd=rules, capture_output=True,
                                  text=True)
            self.assertEqual(test.returncode, 0, test.stdout + test.stderr)
            # Every rule has a unit test.
            with open(os.path.join(rules, f"{name}.yaml")) as f:
                names = [r.get("record") or r.get("alert") for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
            with open(os.path.join(rules, f"{name}_test.yaml")) as f:
                tested = f.read()
            for rule in names:
                self.assertIn(rule, tested, f"rule {rule} of {name}.yaml has no unit test")


class ManifestTests(unittest.TestCase):
    def test_env_and_ports_are_ones_the_binary_accepts(self):
        pod, container = sidecar()
        accepted = subprocess.run([DEBUG_BINARY, "--help"], capture_output=True, text=True).stdout
        environment = {"PATH": os.environ.get("PATH", "")}
        tree = tempfile.mkdtemp(prefix="cme-manifest-")
        try:
            for variable in container["env"]:
                name = variable["name"]
                self.assertIn(f"env: {name}\n", accepted, f"{name} is not a variable the binary knows")
                value = variable.get("value", "from-the-downward-api")
                if name.endswith("_DIR"):
                    # Each directory of a list moved into the test's tree (`.config/claude` as `config-claude`).
                    value = ",".join(os.path.join(tree, path.strip("/").replace("/", "-")) for path in value.split(","))
                environment[name] = value
            # The binary accepts every value the manifest gives (exit 78 would name the bad one).
            once = subprocess.run([DEBUG_BINARY, "--once"], env=environment, capture_output=True, text=True)
            self.assertEqual(once.returncode, 0, once.stderr)
        finally:
            shutil.rmtree(tree)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        port = int(environment.get("METRICS_PORT", "8080"))
        self.assertEqual(ports["metrics"], port)
        for probe in ("livenessProbe", "readinessProbe"):
            self.assertEqual(container[probe]["httpGet"]["path"], "/health")
            self.assertIn(container[probe]["httpGet"]["port"], (port, "metrics"))
        annotations = pod["metadata"]["annotations"]
        self.assertEqual(int(annotations["prometheus.io/port"]), port)
        # The sidecar outlives the agent, whose preStop hook waits on the exporter's drain, within a grace
        # period long enough for a turn.
        self.assertEqual(container["restartPolicy"], "Always")
        agent = [c for c in pod["spec"]["containers"] if c["name"] == "agent"][0]
        hook = agent["lifecycle"]["preStop"]["httpGet"]
        self.assertEqual(hook["path"], "/-/drain")
        self.assertEqual(int(hook["port"]), port)
        self.assertGreaterEqual(pod["spec"]["terminationGracePeriodSeconds"], 600)
        with open(os.path.join(DEPLOY, "kubernetes", "podmonitor.yaml")) as f:
            monitor = yaml.safe_load(f)
        self.assertEqual(monitor["spec"]["podMetricsEndpoints"][0]["port"], "metrics")


def strategic_merge(base, patch):
    """What kustomize does with this repository's patch: maps merge key by key, and lists of containers merge by
    `name` (a patch entry with a new name is appended); any other value in the patch replaces the base's."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = strategic_merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(item, dict) and "name" in item for item in base + patch):
        merged = [dict(item) for item in base]
        for item in patch:
            index = next((i for i, existing in enumerate(merged) if existing["name"] == item["name"]), None)
            if index is None:
                merged.append(item)
            else:
                merged[index] = strategic_merge(merged[index], item)
        return merged
    return patch


class SchemaTests(unittest.TestCase):
    # The oldest Kubernetes with native sidecars on by default, and the newest the validator ships.
    VERSIONS = ("1.29.0", "1.37.0")

    def test_manifests_validate_against_the_kubernetes_schemas(self):
        import kubernetes_validate
        kubernetes = os.path.join(DEPLOY, "kubernetes")
        with open(os.path.join(kubernetes, "agent-statefulset.yaml")) as f:
            statefulset = yaml.safe_load(f)
        with open(os.path.join(kubernetes, "sidecar-patch.yaml")) as f:
            patch = yaml.safe_load(f)
        rendered = strategic_merge(statefulset, patch)
        # The render is what a user applies: the agent keeps its image and gains the hook; the sidecar is added.
        pod = rendered["spec"]["template"]["spec"]
        agent = [c for c in pod["containers"] if c["name"] == "agent"][0]
        self.assertIn("image", agent)
        self.assertEqual(agent["lifecycle"]["preStop"]["httpGet"]["path"], "/-/drain")
        self.assertEqual([c["name"] for c in pod["initContainers"]], ["claude-metrics-exporter"])
        with open(os.path.join(kubernetes, "hpa.yaml")) as f:
            hpa = yaml.safe_load(f)
        for version in self.VERSIONS:
            for name, document in (("the rendered StatefulSet", rendered), ("hpa.yaml", hpa)):
                with self.subTest(version=version, manifest=name):
                    try:
                        kubernetes_validate.validate(document, version, strict=True)
                    except kubernetes_validate.ValidationError as error:
                        self.fail(f"{name} against Kubernetes {version}: {error.message} at {list(error.path)}")


class PrometheusEndToEnd(unittest.TestCase):
    def test_real_prometheus_scrapes_and_rules_follow(self):
        work = tempfile.mkdtemp(prefix="cme-prom-")
        exporter = prometheus = None
        try:
            claude = os.path.join(work, ".claude")
            project = os.path.join(claude, "projects", "-home-agent-repo")
            os.makedirs(project)
            exporter_port = free_port()
            exporter = start_exporter(work, exporter_port, "agent-0")
            self.assertTrue(wait_until(lambda: get(f"http://127.0.0.1:{exporter_port}/health")[0] == 200))
            prometheus, query, prometheus_port = start_prometheus(work, [f"127.0.0.1:{exporter_port}"])
            self.assertEqual(wait_until(lambda: query('up{job="claude-agent"}') == 1, timeout=60), True,
                             "Prometheus never scraped the exporter")
            self.assertTrue(wait_until(lambda: query("claude_session_active") == 0))
            self.assertTrue(wait_until(lambda: query("claude:agents_idle:count") == 1))
            with open(os.path.join(project, f"{uuid.uuid4()}.jsonl"), "a") as f:
                f.write('{"type":"user"}\n')
            self.assertTrue(wait_until(lambda: query("claude_session_active") == 1, timeout=15),
                            "claude_session_active did not turn 1 after a transcript write")
            self.assertTrue(wait_until(lambda: query("claude:agents_active:sum") == 1, timeout=15))
            self.assertTrue(wait_until(lambda: query("claude:agents_active:ratio") == 1, timeout=15))
            self.assertTrue(wait_until(lambda: query("claude_sessions_total") == 1, timeout=15))
            # Every dashboard panel's query returns data here (a query that silently shows nothing fails).
            for title, expression in dashboard_queries("agent-0", "repo"):
                self.assertTrue(wait_until(lambda: query(expression) is not None, timeout=30),
                                f"dashboard panel {title} shows nothing: {expression}")
            self.assertTrue(wait_until(lambda: query("claude_session_active") == 0, timeout=30),
                            "claude_session_active did not return to 0 after the 6 s idle timeout")
            self.assertTrue(wait_until(lambda: query("claude:agents_idle:count") == 1, timeout=15))
            # No scrape problem of any kind.
            targets = json.loads(get(f"http://127.0.0.1:{prometheus_port}/api/v1/targets")[1])["data"]
            target = targets["activeTargets"][0]
            self.assertEqual(target["health"], "up")
            self.assertEqual(target["lastError"], "")
            exposed = [l for l in get(f"http://127.0.0.1:{exporter_port}/metrics")[1].splitlines() if l[:1] != "#"]
            self.assertEqual(query('scrape_samples_scraped{job="claude-agent"}'), len(exposed))
            # Prometheus's own counters of rejected samples, read from its /metrics.
            own = get(f"http://127.0.0.1:{prometheus_port}/metrics")[1]
            for problem in ("prometheus_target_scrapes_sample_duplicate_timestamp_total",
                            "prometheus_target_scrapes_sample_out_of_bounds_total",
                            "prometheus_target_scrapes_sample_out_of_order_total",
                            "prometheus_target_scrapes_exceeded_sample_limit_total"):
                self.assertEqual(sample(own, problem), 0, problem)
        finally:
            stop(prometheus)
            stop(exporter)
            shutil.rmtree(work, ignore_errors=True)


def proc_start(pid):
    """Field 22 of /proc/<pid>/stat (after the command name in parentheses), as Claude Code records procStart."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


class StatusPageInBrowser(unittest.TestCase):
    """The page at / in a real browser (Debian's chromium, headless): no JavaScript, readable on a phone."""

    def test_status_page_renders_in_chromium(self):
        chromium = shutil.which("chromium")
        self.assertIsNotNone(chromium, "chromium is missing: make deps installs it (Debian package chromium)")
        work = tempfile.mkdtemp(prefix="cme-page-")
        exporter = agent = None
        try:
            claude = os.path.join(work, ".claude")
            project = os.path.join(claude, "projects", "-home-agent-repo")
            os.makedirs(project)
            os.makedirs(os.path.join(claude, "sessions"))
            with open(os.path.join(project, f"{uuid.uuid4()}.jsonl"), "w") as f:
                f.write('{"type":"user"}\n')
            # A child process plays a busy Claude Code, with its real pid and start time in the registry.
            agent = subprocess.Popen(["sleep", "300"])
            millis = int(time.time() * 1000)
            with open(os.path.join(claude, "sessions", f"{agent.pid}.json"), "w") as f:
                json.dump({"pid": agent.pid, "sessionId": str(uuid.uuid4()), "cwd": "/home/agent/page-test-repo",
                           "status": "busy", "statusUpdatedAt": millis, "updatedAt": millis,
                           "procStart": proc_start(agent.pid), "kind": "interactive"}, f)
            port = free_port()
            exporter = start_exporter(work, port, "agent-7")
            self.assertTrue(wait_until(lambda: get(f"http://127.0.0.1:{port}/health")[0] == 200))
            self.assertTrue(wait_until(lambda: "busy" in get(f"http://127.0.0.1:{port}/")[1]))
            url = f"http://127.0.0.1:{port}/"
            # As root, chromium needs --no-sandbox; its profile goes in the temporary directory.
            browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                       f"--user-data-dir={work}/chromium", "--window-size=412,915"]
            dom = subprocess.run(browser + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
            text = re.sub(r"<[^>]+>", " ", dom)
            text = re.sub(r"\s+", " ", text)
            for expected in ("Agent agent-7 (repo) is active", "transcripts", "/home/agent/page-test-repo",
                             "busy", "CLAUDE_DIR", "present", "HAPPY_DIR", "waiting for it to be created",
                             "/metrics", "inotify watches"):
                self.assertIn(expected, text)
            self.assertNotIn("<script", dom)
            shot = os.path.join(work, "page.png")
            subprocess.run(browser + [f"--screenshot={shot}", url], capture_output=True, timeout=120)
            self.assertEqual(png_size(shot), (412, 915), "no phone-sized screenshot was taken")
            self.assertGreater(os.path.getsize(shot), 10_000, "the screenshot is (nearly) blank")
            keep = os.environ.get("CME_KEEP_SCREENSHOT")
            if keep:
                shutil.copy2(shot, keep)
        finally:
            stop(exporter)
            if agent:
                agent.kill()
                agent.wait()
            shutil.rmtree(work, ignore_errors=True)


class DemoTests(unittest.TestCase):
    """`make demo`'s script: its old default port taken, it still runs; an explicit busy port stops it clearly."""

    def run_demo(self, env):
        return subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh"), DEBUG_BINARY],
                              env=dict(os.environ, **env), capture_output=True, text=True, timeout=180)

    def test_demo_with_ports_taken(self):
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("127.0.0.1", 9464))  # the demo's default port before, taken by "another server"
        except OSError:
            busy.close()
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            # Settings a user may have exported for their own exporter change nothing in the demo.
            clean = {"DEMO_PORT": "", "METRICS_PORT": "", "LOG_LEVEL": "warning", "LOG_FORMAT": "json",
                     "ACTIVITY_SOURCES": "transcripts,happy_logs", "CLAUDE_CONFIG_DIR": "/nonexistent"}
            demo = self.run_demo(clean)
            self.assertEqual(demo.returncode, 0, demo.stderr[-2000:])
            self.assertIn("claude_session_active=1", demo.stdout)
            lines = [l for l in demo.stdout.splitlines() if l.strip()]
            self.assertIn("claude_session_active=0", lines[-4])
            self.assertNotIn(f":{port}/", demo.stdout)
            self.assertIn("make run", lines[-2])
            for env in ({"DEMO_PORT": str(port)}, {"METRICS_PORT": str(port), "DEMO_PORT": ""}):
                refused = self.run_demo(env)
                self.assertEqual(refused.returncode, 1, env)
                self.assertIn(f"port {port} is already in use", refused.stderr)
                self.assertIn("did not start: port", refused.stderr)
                self.assertNotIn("claude_session_active", refused.stdout, "queried the other server")
            outside = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], cwd="/",
                                     env=dict(os.environ, DEMO_PORT="abc"), capture_output=True, text=True)
            self.assertEqual(outside.returncode, 2)
            self.assertIn("expected a TCP port", outside.stderr)
        finally:
            busy.close()


class KedaEndToEnd(unittest.TestCase):
    def test_several_exporters_give_the_replica_count_keda_asks_for(self):
        """Three exporters (pods agent-0..2) scraped by a real Prometheus with the shipped rules; KEDA's query and
        threshold are read from the shipped ScaledObject, and its formula (ceil(value / threshold)) applied."""
        with open(os.path.join(DEPLOY, "keda", "scaledobject.yaml")) as f:
            scaled = yaml.safe_load(f)
        trigger = scaled["spec"]["triggers"][0]
        self.assertEqual(trigger["type"], "prometheus")
        keda_query, threshold = trigger["metadata"]["query"], float(trigger["metadata"]["threshold"])
        self.assertEqual(scaled["spec"]["scaleTargetRef"]["kind"], "StatefulSet")
        work = tempfile.mkdtemp(prefix="cme-keda-")
        exporters, prometheus = [], None
        try:
            ports, projects = [], []
            for index in range(3):
                home = os.path.join(work, f"agent-{index}")
                project = os.path.join(home, ".claude", "projects", "-home-agent-repo")
                os.makedirs(project)
                port = free_port()
                exporters.append(start_exporter(home, port, f"agent-{index}"))
                ports.append(port)
                projects.append(project)
            for port in ports:
                self.assertTrue(wait_until(lambda: get(f"http://127.0.0.1:{port}/health")[0] == 200))
            prometheus, query, _ = start_prometheus(work, [f"127.0.0.1:{p}" for p in ports])

            def replicas():
                value = query(keda_query)
                return None if value is None else math.ceil(value / threshold)

            self.assertTrue(wait_until(lambda: query('count(up{job="claude-agent"} == 1)') == 3, timeout=60),
                            "Prometheus never scraped all three exporters")
            self.assertTrue(wait_until(lambda: replicas() == 1, timeout=30), "idle agents: KEDA should keep one")
            for project in projects[:2]:
                with open(os.path.join(project, f"{uuid.uuid4()}.jsonl"), "a") as f:
                    f.write('{"type":"user"}\n')
            self.assertTrue(wait_until(lambda: query("claude:agents_active:sum") == 2, timeout=15))
            self.assertTrue(wait_until(lambda: replicas() == 3, timeout=15),
                            f"two busy agents: KEDA should ask for 3, got {replicas()}")
            self.assertTrue(wait_until(lambda: replicas() == 1, timeout=40),
                            "after the idle timeout KEDA should come back to one pod")
        finally:
            stop(prometheus)
            for exporter in exporters:
                stop(exporter)
            shutil.rmtree(work, ignore_errors=True)


PODMAN_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
"""


def podman(*arguments, check=True, env=None):
    result = subprocess.run(["podman", *arguments], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(arguments)}: {result.stderr.strip()}")
    return result


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("podman"), "needs podman as root (make test installs it)")
class ContainerTests(unittest.TestCase):
    """The image as `make image` builds it (the Dockerfile's runtime stage, built by podman), run the way the
    manifests run it, and a real two-container pod in which the test plays the kubelet."""

    IMAGE = "localhost/claude-metrics-exporter:latest"

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="cme-podman-")
        conf = os.path.join(cls.work, "containers.conf")
        with open(conf, "w") as f:
            f.write(PODMAN_CONF)
        cls.env = dict(os.environ, CONTAINERS_CONF=conf)
        build = subprocess.run(["make", "-s", "image"], cwd=os.path.dirname(DEPLOY), capture_output=True, text=True,
                               env=cls.env)
        if build.returncode != 0:
            raise AssertionError(f"make image failed: {build.stdout}{build.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def home(self, name):
        home = os.path.join(self.work, name)
        os.makedirs(os.path.join(home, ".claude", "projects", "-repo"))
        os.chown(home, 1000, 1000)
        for root, dirs, _ in os.walk(home):
            for d in dirs:
                os.chown(os.path.join(root, d), 1000, 1000)
        return home

    def test_runs_read_only_without_capabilities_and_stops_at_once(self):
        home = self.home("single")
        with open(os.path.join(home, ".claude", "projects", "-repo", f"{uuid.uuid4()}.jsonl"), "w") as f:
            f.write("{}\n")
        port = free_port()
        name = f"cme-single-{port}"
        podman("run", "-d", "--name", name, "--network", "host", "--read-only", "--cap-drop=all",
               "--security-opt", "no-new-privileges", "--user", "1000:1000", "-v", f"{home}:/home/agent:ro",
               "-e", f"METRICS_PORT={port}", "-e", "LISTEN_ADDRESS=127.0.0.1", "-e", "POD_NAME=agent-0",
               self.IMAGE, env=self.env)
        try:
            self.assertTrue(wait_until(lambda: get(f"http://127.0.0.1:{port}/health")[0] == 200, timeout=30),
                            podman("logs", name, check=False, env=self.env).stderr)
            body = get(f"http://127.0.0.1:{port}/metrics")[1]
            self.assertIn('claude_sessions_total{pod="agent-0",repository="unknown"} 1', body)
            started = time.monotonic()
            podman("stop", "-t", "10", name, env=self.env)
            self.assertLess(time.monotonic() - started, 2, "podman stop took 2 s or more")
            code = podman("inspect", name, "--format", "{{.State.ExitCode}}", env=self.env).stdout.strip()
            self.assertEqual(code, "0")
        finally:
            podman("rm", "-f", name, check=False, env=self.env)

    def test_pod_drain_waits_for_the_agents_turn(self):
        """A pod with a shared pid namespace: a fake agent (busybox) writes its registry file with its real pid;
        the exporter follows it; the test, as the kubelet, calls the agent's preStop (/-/drain) while it is busy,
        sees it held, lets the agent finish its turn, sees the drain return, and only then stops the agent."""
        home = self.home("pod")
        control = os.path.join(self.work, "control")
        os.makedirs(control)
        agent_context = os.path.join(self.work, "agent-image")
        shutil.copytree(os.path.join(DEPLOY, "tests", "fake-agent"), agent_context)
        shutil.copy("/bin/busybox", agent_context)
        podman("build", "-q", "-t", "localhost/cme-fake-agent:test", agent_context, env=self.env)
        port = free_port()
        pod = f"cme-pod-{port}"
        podman("pod", "create", "--name", pod, "--share", "net,pid,ipc,uts", "--network", "host", env=self.env)
        try:
            podman("run", "-d", "--pod", pod, "--name", f"{pod}-exporter", "--read-only", "--cap-drop=all",
                   "--security-opt", "no-new-privileges", "--user", "1000:1000", "-v", f"{home}:/home/agent:ro",
                   "-e", f"METRICS_PORT={port}", "-e", "LISTEN_ADDRESS=127.0.0.1", "-e", "DRAIN_QUIET_SECONDS=1",
                   self.IMAGE, env=self.env)
            self.assertTrue(wait_until(lambda: get(f"http://127.0.0.1:{port}/health")[0] == 200, timeout=30),
                            podman("logs", f"{pod}-exporter", check=False, env=self.env).stderr)
            podman("run", "-d", "--pod", pod, "--name", f"{pod}-agent", "--cap-drop=all", "--user", "1000:1000",
                   "-v", f"{home}:/home/agent", "-v", f"{control}:/control:ro", "localhost/cme-fake-agent:test",
                   env=self.env)

            def sessions(status):
                body = get(f"http://127.0.0.1:{port}/metrics")[1]
                return sample(body, f'claude_agent_sessions{{pod="unknown",repository="unknown",status="{status}"}}')

            self.assertTrue(wait_until(lambda: sessions("busy") == 1, timeout=30),
                            "the exporter did not see the agent busy through the shared pid namespace")
            # The kubelet runs the preStop hook: held while the agent is mid-turn.
            with socket.create_connection(("127.0.0.1", port), timeout=60) as drain:
                drain.sendall(b"GET /-/drain HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
                self.assertTrue(wait_until(lambda: sample(get(f"http://127.0.0.1:{port}/metrics")[1],
                                                          "claude_exporter_drain_requests_waiting") == 1))
                time.sleep(1.5)
                self.assertEqual(podman("inspect", f"{pod}-agent", "--format", "{{.State.Running}}",
                                        env=self.env).stdout.strip(), "true")
                # The agent finishes its turn; the hook returns.
                open(os.path.join(control, "idle"), "w").close()
                answer = b""
                while not answer.endswith(b"\n") or b"\r\n\r\n" not in answer:
                    chunk = drain.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
            self.assertEqual(sessions("idle"), 1)
            # Only now does the kubelet stop the agent.
            open(os.path.join(control, "exit"), "w").close()
            podman("wait", f"{pod}-agent", env=self.env)
            self.assertTrue(wait_until(lambda: sessions("idle") == 0, timeout=15))
        finally:
            podman("pod", "rm", "-f", pod, check=False, env=self.env)


class SystemdUnitTests(unittest.TestCase):
    """The unit files: `systemd-analyze verify` clean, `security --offline=true` exposure <= 1.5, make install."""

    def installed(self, destination, prefix="/usr"):
        make = subprocess.run(["make", "-s", "install", f"DESTDIR={destination}", f"PREFIX={prefix}"], cwd=ROOT,
                              capture_output=True, text=True)
        self.assertEqual(make.returncode, 0, make.stdout + make.stderr)
        return os.path.join(destination, prefix.lstrip("/"), "lib", "systemd", "system")

    def test_install_verify_security_uninstall(self):
        destination = tempfile.mkdtemp(prefix="cme-install-")
        try:
            units = self.installed(destination)
            binary = os.path.join(destination, "usr", "bin", "claude-metrics-exporter")
            self.assertTrue(os.access(binary, os.X_OK))
            settings = os.path.join(destination, "etc", "default", "claude-metrics-exporter")
            self.assertTrue(os.path.exists(settings))
            with open(settings, "w") as f:
                f.write("POD_NAME=mine\n")
            self.installed(destination)  # a second install keeps the user's settings
            with open(settings) as f:
                self.assertEqual(f.read(), "POD_NAME=mine\n")
            # Point ExecStart at the installed binary's real place for the checks (DESTDIR is not /).
            checked = tempfile.mkdtemp(prefix="cme-units-")
            for unit in os.listdir(units):
                with open(os.path.join(units, unit)) as f:
                    text = f.read()
                if unit.endswith(".service"):
                    self.assertIn("ExecStart=/usr/bin/claude-metrics-exporter", text)
                name = unit.replace("@.service", "@alice.service")
                with open(os.path.join(checked, name), "w") as f:
                    f.write(text.replace("/usr/bin/claude-metrics-exporter", binary))
            for unit in ("claude-metrics-exporter.service", "claude-metrics-exporter@alice.service",
                         "claude-metrics-exporter.socket"):
                verify = subprocess.run(["systemd-analyze", "verify", os.path.join(checked, unit)],
                                        capture_output=True, text=True)
                self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
                self.assertEqual(verify.stdout + verify.stderr, "", f"{unit}: not clean")
            for unit in ("claude-metrics-exporter.service", "claude-metrics-exporter@alice.service"):
                security = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                           os.path.join(checked, unit)], capture_output=True, text=True)
                line = [l for l in security.stdout.splitlines() if "Overall exposure level" in l][0]
                exposure = float(line.split(":")[1].split()[0])
                self.assertLessEqual(exposure, 1.5, line)
            shutil.rmtree(checked)
            make = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={destination}", "PREFIX=/usr"], cwd=ROOT,
                                  capture_output=True, text=True)
            self.assertEqual(make.returncode, 0, make.stderr)
            self.assertFalse(os.path.exists(binary))
            self.assertEqual(os.listdir(units), [])
        finally:
            shutil.rmtree(destination, ignore_errors=True)


class SocketActivationTests(unittest.TestCase):
    def test_serves_on_the_socket_systemd_passes(self):
        activate = shutil.which("systemd-socket-activate")
        self.assertIsNotNone(activate, "systemd-socket-activate missing (package systemd)")
        work = tempfile.mkdtemp(prefix="cme-activate-")
        process = None
        try:
            project = os.path.join(work, ".claude", "projects", "-r")
            os.makedirs(project)
            with open(os.path.join(project, f"{uuid.uuid4()}.jsonl"), "w") as f:
                f.write("{}\n")
            port = free_port()
            # METRICS_PORT names another port on purpose: with a socket passed, the exporter must not bind.
            process = subprocess.Popen(
                [activate, "-l", f"127.0.0.1:{port}", "-E", f"CLAUDE_DIR={work}/.claude",
                 "-E", f"HAPPY_DIR={work}/.happy", "-E", "METRICS_PORT=1", DEBUG_BINARY],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            body = wait_until(lambda: get(f"http://127.0.0.1:{port}/metrics")[1], timeout=30)
            self.assertEqual(sample(body or "", 'claude_sessions_total{pod="unknown",repository="unknown"}'), 1)
        finally:
            stop(process)
            shutil.rmtree(work, ignore_errors=True)


class SystemdBootTests(unittest.TestCase):
    """The installed service under a real systemd: this machine's own /usr booted by systemd-nspawn."""

    @unittest.skipUnless(os.geteuid() == 0, "needs root for systemd-nspawn (CI runs as root)")
    def test_service_under_a_real_systemd(self):
        nspawn = shutil.which("systemd-nspawn", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
        self.assertIsNotNone(nspawn, "systemd-nspawn missing: apt-get install systemd-container (make test does)")
        work = tempfile.mkdtemp(prefix="cme-boot-")
        try:
            stage = os.path.join(work, "stage")
            make = subprocess.run(["make", "-s", "install", f"DESTDIR={stage}", "PREFIX=/opt/cme"], cwd=ROOT,
                                  capture_output=True, text=True)
            self.assertEqual(make.returncode, 0, make.stdout + make.stderr)
            check = os.path.join(work, "check")
            shutil.copytree(os.path.join(DEPLOY, "tests", "nspawn"), check)
            port = free_port()
            with open(os.path.join(check, "port"), "w") as f:
                f.write(str(port))
            # The test's drop-in: a user the booted tree has, the test's directories and port, a short watchdog.
            with open(os.path.join(check, "test.conf"), "w") as f:
                f.write("[Service]\nUser=nobody\n"
                        "Environment=CLAUDE_DIR=/var/cme/.claude HAPPY_DIR=/var/cme/.happy "
                        f"METRICS_PORT={port} LISTEN_ADDRESS=127.0.0.1\n"
                        "WatchdogSec=3s\nRestartSec=1s\n")
            tree = os.path.join(work, "tree")
            project = os.path.join(tree, ".claude", "projects", "-srv-repo")
            os.makedirs(project)
            transcript = os.path.join(project, "0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl")
            with open(transcript, "w") as f:
                f.write("{}\n")
            old = time.time() - 7200
            os.utime(transcript, (old, old))
            # Readable by the service's user (nobody); executables keep their mode.
            for directory, _, files in os.walk(work):
                os.chmod(directory, 0o755)
                for name in files:
                    path = os.path.join(directory, name)
                    os.chmod(path, os.stat(path).st_mode | 0o444)
            out = os.path.join(work, "out")
            os.makedirs(out)
            units = os.path.join(stage, "opt", "cme", "lib", "systemd", "system")
            command = [
                nspawn, "--console=pipe", "--register=no", "--keep-unit", "--volatile=yes", "-D", "/",
                f"--bind-ro={os.path.join(stage, 'opt', 'cme')}:/opt/cme",
                f"--bind-ro={units}/claude-metrics-exporter.service:/etc/systemd/system/claude-metrics-exporter.service",
                f"--bind-ro={check}/test.conf:/etc/systemd/system/claude-metrics-exporter.service.d/test.conf",
                f"--bind-ro={check}/cme-check.service:/etc/systemd/system/cme-check.service",
                f"--bind-ro={check}:/check", f"--bind={tree}:/var/cme", f"--bind={out}:/out",
                "-b", "systemd.unit=cme-check.service", "systemd.firstboot=off",
            ]
            boot = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240)
            results = {}
            path = os.path.join(out, "results")
            if os.path.exists(path):
                with open(path) as f:
                    results = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            context = f"results: {results}\nconsole tail:\n{boot.stdout[-3000:]}{boot.stderr[-2000:]}"
            self.assertEqual(results.get("done"), "yes", context)
            # Active (running) only after READY=1, with the status line.
            self.assertEqual(results["start_rc"], "0", context)
            self.assertEqual((results["active_state"], results["sub_state"]), ("active", "running"), context)
            self.assertTrue(results["status_text"].startswith("idle · 1 session · last activity 2 h ago"), context)
            self.assertEqual((results["curl_rc"], results["sessions"]), ("0", "1"), context)
            # A write flips it to active, and the journal has the transition with its fields.
            self.assertEqual(results.get("became_active"), "yes", context)
            self.assertTrue(results["status_text_active"].startswith("active · 1 session"), context)
            self.assertGreaterEqual(int(results["journal_transition"]), 1, context)
            self.assertGreaterEqual(int(results["journal_fields"]), 1, context)
            # Reload works; the watchdog restarts a SIGSTOPped daemon; stop is clean.
            self.assertEqual((results["reload_rc"], results["active_after_reload"]), ("0", "active"), context)
            self.assertGreaterEqual(int(results["journal_reload"]), 1, context)
            self.assertEqual(results.get("watchdog_restarted"), "yes", context)
            self.assertGreaterEqual(int(results["restarts"]), 1, context)
            self.assertEqual(results["stop_rc"], "0", context)
            self.assertEqual(results["stop_result"], "success", context)
            self.assertEqual(results["stop_status"], "0", context)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def debian_root():
    """A minimal Debian bookworm with systemd (debootstrap), built once per machine and kept under .build: about
    100 packages from the Debian mirror the first time, then reused as it is (each test boots it with a
    throw-away overlay, so it is never changed)."""
    root = os.path.join(ROOT, ".build", "debian-root", "bookworm")
    if os.path.exists(os.path.join(root, ".complete")):
        return root
    debootstrap = shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if debootstrap is None:
        raise AssertionError("debootstrap missing: apt-get install debootstrap (make test does)")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.dirname(root), exist_ok=True)
    result = subprocess.run(
        [debootstrap, "--variant=minbase", "--include=systemd,systemd-sysv,dbus,libsystemd0", "bookworm", root,
         "http://deb.debian.org/debian"], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise AssertionError("debootstrap failed:\n" + result.stdout[-3000:] + result.stderr[-2000:])
    open(os.path.join(root, ".complete"), "w").close()
    return root


class DebianPackageTests(unittest.TestCase):
    """make deb's package in a minimal Debian booted by systemd-nspawn: apt-get install, the template for a user,
    status, a scrape, reload, apt-get purge. And lintian, and the manual page."""

    @classmethod
    def setUpClass(cls):
        make = subprocess.run(["make", "-s", "deb"], cwd=ROOT, capture_output=True, text=True)
        if make.returncode != 0:
            raise AssertionError("make deb failed:\n" + make.stdout[-3000:] + make.stderr[-3000:])
        version = re.search(r'^let version = "(.*)"', open(os.path.join(ROOT, "Sources", "claude-metrics-exporter",
                                                                         "main.swift")).read(), re.M).group(1)
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
        cls.deb = os.path.join(ROOT, "dist", f"claude-metrics-exporter_{version}_{arch}.deb")

    def test_lintian_has_no_errors_or_warnings(self):
        lintian = subprocess.run(["lintian", "--fail-on", "error,warning", self.deb], capture_output=True, text=True)
        self.assertEqual(lintian.returncode, 0, lintian.stdout + lintian.stderr)
        fields = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends", "Recommends"], capture_output=True,
                                text=True).stdout
        depends = re.findall(r"(lib[\w.+-]+)", fields.split("Recommends")[0])
        self.assertEqual(sorted(depends), ["libc6", "libgcc-s1", "libstdc++6"], fields)
        self.assertIn("Recommends: libsystemd0", fields)

    def test_man_page_renders_without_warnings_and_names_every_option(self):
        page = os.path.join(ROOT, ".build", "claude-metrics-exporter.1")
        rendered = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                                  env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0"))
        self.assertEqual(rendered.returncode, 0, rendered.stderr)
        self.assertEqual(rendered.stderr, "", "man --warnings")
        text = re.sub(r".\x08", "", rendered.stdout)
        helptext = subprocess.run([DEBUG_BINARY, "--help"], capture_output=True, text=True).stdout
        for variable in re.findall(r"env: (\w+)", helptext):
            self.assertIn(variable, text)
        for flag in re.findall(r"^  (--[\w-]+)", helptext, re.M):
            self.assertIn(flag, text)
        for section in ("SYNOPSIS", "OPTIONS", "EXIT STATUS", "SIGNALS", "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertIn(section, text)

    def test_release_archive_and_its_checksum(self):
        make = subprocess.run(["make", "-s", "dist"], cwd=ROOT, capture_output=True, text=True)
        self.assertEqual(make.returncode, 0, make.stdout[-2000:] + make.stderr[-2000:])
        archive = os.path.join(ROOT, make.stdout.strip().splitlines()[-1])
        name = os.path.basename(archive)[: -len(".tar.gz")]
        self.assertRegex(name, r"^claude-metrics-exporter-\d+\.\d+\.\d+-linux-\w+$")
        check = subprocess.run(["sha256sum", "-c", name + ".tar.gz.sha256"], cwd=os.path.dirname(archive),
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        listing = subprocess.run(["tar", "-tzvf", archive], capture_output=True, text=True).stdout
        members = sorted(line.split()[-1] for line in listing.splitlines())
        expected = ["claude-metrics-exporter", "claude-metrics-exporter.1", "claude-metrics-exporter.default",
                    "claude-metrics-exporter.service", "claude-metrics-exporter.socket",
                    "claude-metrics-exporter@.service", "LICENSE", "README.md"]
        self.assertEqual(members, sorted([name + "/"] + [f"{name}/{member}" for member in expected]))
        self.assertTrue(all(" 0/0 " in line for line in listing.splitlines()), listing)
        work = tempfile.mkdtemp(prefix="cme-dist-")
        try:
            subprocess.run(["tar", "-xzf", archive, "-C", work], check=True)
            version = subprocess.run([os.path.join(work, name, "claude-metrics-exporter"), "--version"],
                                     capture_output=True, text=True)
            self.assertEqual(version.returncode, 0, version.stderr)
            self.assertIn(name.split("-")[3], version.stdout)
        finally:
            shutil.rmtree(work)

    @unittest.skipUnless(os.geteuid() == 0, "needs root for debootstrap and systemd-nspawn (CI runs as root)")
    def test_install_enable_scrape_reload_purge_in_a_minimal_debian(self):
        nspawn = shutil.which("systemd-nspawn", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
        self.assertIsNotNone(nspawn, "systemd-nspawn missing: apt-get install systemd-container (make test does)")
        root = debian_root()
        work = tempfile.mkdtemp(prefix="cme-deb-")
        try:
            check = os.path.join(work, "check")
            shutil.copytree(os.path.join(DEPLOY, "tests", "deb"), check)
            shutil.copy(self.deb, os.path.join(check, "claude-metrics-exporter.deb"))
            out = os.path.join(work, "out")
            os.makedirs(out)
            started = time.monotonic()
            command = [
                nspawn, "--console=pipe", "--register=no", "--keep-unit", "--volatile=overlay", "--private-network",
                "-D", root, f"--bind-ro={check}:/check", f"--bind={out}:/out",
                f"--bind-ro={check}/cme-deb-check.service:/etc/systemd/system/cme-deb-check.service",
                "-b", "systemd.unit=cme-deb-check.service", "systemd.firstboot=off",
            ]
            boot = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
            seconds = time.monotonic() - started
            results = {}
            path = os.path.join(out, "results")
            if os.path.exists(path):
                with open(path) as f:
                    results = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            logs = ""
            for name in ("apt-install.log", "enable.log", "apt-purge.log"):
                if os.path.exists(os.path.join(out, name)):
                    logs += f"--- {name}\n" + open(os.path.join(out, name)).read()[-1500:]
            context = f"results: {results}\n{logs}\nconsole tail:\n{boot.stdout[-2500:]}{boot.stderr[-1500:]}"
            self.assertEqual(results.get("done"), "yes", context)
            self.assertEqual(results["install_rc"], "0", context)
            # Installing enables and starts nothing; the conffile and the manual page are there.
            self.assertEqual((results["service_enabled"], results["service_active"]), ("disabled", "inactive"), context)
            self.assertEqual((results["man_page"], results["conffile"]), ("yes", "1"), context)
            # The template for alice: READY, the status line (in systemctl status too), a scrape.
            self.assertEqual((results["enable_rc"], results["active_state"]), ("0", "active"), context)
            self.assertTrue(results["status_text"].startswith("idle · 1 session · last activity 2 h ago"), context)
            self.assertEqual(results["status_shown"], "1", context)
            self.assertEqual((results["scrape_rc"], results["sessions"], results["active"]), ("0", "1", "0"), context)
            self.assertEqual(results.get("became_active"), "yes", context)
            self.assertEqual((results["reload_rc"], results["active_after_reload"]), ("0", "active"), context)
            self.assertGreaterEqual(int(results["journal_reload"]), 1, context)
            # Purged: the unit, the files, the conffile and the enablement link are gone, nothing runs, the
            # user's data stays.
            self.assertEqual(results["purge_rc"], "0", context)
            self.assertEqual(results["unit_after_purge"], "not-found", context)
            self.assertEqual(results["left"].strip(), "", context)
            self.assertEqual(results["running"], "0", context)
            self.assertEqual(results["home_kept"], "yes", context)
            print(f"\n  package install test: {seconds:.1f} s in the booted root", file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class RuntimeImageTests(unittest.TestCase):
    """What the container image has: the static binary, the loader, libc, libm, libstdc++, libgcc_s."""

    @unittest.skipUnless(os.geteuid() == 0, "needs root for chroot (CI runs as root)")
    def test_runs_in_an_empty_chroot_as_uid_1000(self):
        # Under .build (where the binaries already run), not /tmp: a CI /tmp mounted noexec must not decide this.
        root = tempfile.mkdtemp(prefix="cme-chroot-", dir=os.path.join(ROOT, ".build"))
        exporter = None
        try:
            libraries = []
            for line in subprocess.run(["ldd", RELEASE_BINARY], capture_output=True, text=True).stdout.splitlines():
                parts = line.split()
                path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
                if path.startswith("/"):
                    libraries.append(path)
            names = sorted(os.path.basename(p).split(".so")[0] for p in libraries)
            self.assertEqual(names, ["ld-linux-x86-64", "libc", "libgcc_s", "libm", "libstdc++"])
            for library in libraries:
                target = os.path.join(root, library.lstrip("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.realpath(library), target)
            shutil.copy2(RELEASE_BINARY, os.path.join(root, "claude-metrics-exporter"))
            project = os.path.join(root, "home", "agent", ".claude", "projects", "-home-agent-repo")
            os.makedirs(project)
            with open(os.path.join(project, f"{uuid.uuid4()}.jsonl"), "w") as f:
                f.write("{}\n")
            for directory, _, _ in os.walk(os.path.join(root, "home")):
                os.chown(directory, 1000, 1000)
            # Read-only for everyone but its owner, like the agent's home mounted read-only.
            os.chmod(root, 0o755)
            port = free_port()
            env = {"METRICS_PORT": str(port), "LISTEN_ADDRESS": "127.0.0.1", "POD_NAME": "agent-0"}
            os.makedirs(os.path.join(root, "proc"))
            chroot = shutil.which("chroot", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
            unshare = shutil.which("unshare", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
            # Every container runtime mounts /proc, and the Swift runtime's Dispatch needs it (its worker-pool
            # monitor reads /proc/self/task and traps without it). It is mounted in a mount namespace of the
            # exporter's own, so it vanishes with the process and never sits under the tree we delete.
            mount_and_run = f'mount -t proc proc "$1/proc" && exec {chroot} --userspec=1000:1000 "$1" /claude-metrics-exporter'
            exporter = subprocess.Popen([unshare, "--mount", "--propagation", "private", "/bin/sh", "-c",
                                         mount_and_run, "sh", root], env=env, stderr=subprocess.PIPE)
            body = wait_until(lambda: exporter.poll() is None and get(f"http://127.0.0.1:{port}/metrics")[1],
                              timeout=30)
            if not body:
                stop(exporter)
                self.fail(f"no scrape from the chrooted exporter (exit status {exporter.returncode}):\n"
                          f"{exporter.stderr.read().decode(errors='replace')[-3000:]}")
            labels = '{pod="agent-0",repository="unknown"}'
            self.assertEqual(sample(body, "claude_sessions_total" + labels), 1)
            self.assertEqual(sample(body, 'claude_exporter_healthy{pod="agent-0"}'), 1)
            self.assertEqual(get(f"http://127.0.0.1:{port}/health"), (200, "OK"))
            # Still serving a few seconds on (without /proc, Dispatch's pool monitor trapped by then: SIGILL).
            time.sleep(4)
            self.assertIsNone(exporter.poll(), "the chrooted exporter died")
            self.assertEqual(get(f"http://127.0.0.1:{port}/health"), (200, "OK"))
        finally:
            stop(exporter)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for binary in (DEBUG_BINARY, RELEASE_BINARY):
        if not os.path.exists(binary):
            sys.exit(f"{binary} not found: make test builds it")
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__]))
    failed = len(result.failures) + len(result.errors)
    print(f"deploy: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(1 if failed else 0)
