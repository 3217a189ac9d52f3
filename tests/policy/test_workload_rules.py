"""Table-driven tests of the per-workload rules: graceful shutdown and the advisory checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from policies.temporal_policies import advisory
from policies.temporal_policies.shutdown import ShutdownSettings, check_graceful_shutdown
from policies.temporal_policies.workloads import Workload
from tests.policy.rule_fixtures import UNKNOWN, Edit, container, drop_env, pod, set_env, workload

pytestmark = pytest.mark.unit


def _grace(seconds: object) -> Edit:
    return lambda p: pod(p).__setitem__("terminationGracePeriodSeconds", seconds)


def _drop_grace(props) -> None:
    pod(props).pop("terminationGracePeriodSeconds")


def _drop_prestop(props) -> None:
    container(props).pop("lifecycle")


def _container_set(key: str, value: object) -> Edit:
    return lambda p: container(p).__setitem__(key, value)


def _container_pop(key: str) -> Edit:
    return lambda p: container(p).pop(key)


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[Edit, ...]
    expected: tuple[str, ...] = ()  # one substring per expected message, in order
    settings: ShutdownSettings = field(default_factory=ShutdownSettings)


SHUTDOWN_CASES = [
    Case("good: 45 >= 30 + 10", ()),
    Case(
        "no preStop",
        (_drop_prestop,),
        (
            'Deployment billing-worker (queue "billing"): container "worker" has no preStop hook; '
            'add lifecycle.preStop.exec.command ["python", "-m", "workerkit", "drain"]',
        ),
    ),
    Case(
        "preStop sleep counts",
        (_container_set("lifecycle", {"preStop": {"sleep": {"seconds": 5.0}}}),),
    ),
    Case(
        "empty preStop", (_container_set("lifecycle", {"preStop": {}}),), ("has no preStop hook",)
    ),
    Case(
        "grace too short",
        (_grace(35.0),),
        (
            "terminationGracePeriodSeconds=35 < WORKER_GRACEFUL_SHUTDOWN_SECONDS=30 + 10 s buffer; "
            "set terminationGracePeriodSeconds >= 40",
        ),
    ),
    Case("grace exactly enough", (_grace(40.0),)),
    Case(
        "grace absent means 30",
        (_drop_grace,),
        ("terminationGracePeriodSeconds absent (30) < WORKER_GRACEFUL_SHUTDOWN_SECONDS=30",),
    ),
    Case(
        "shutdown env absent means the workerkit default 30",
        (drop_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS"), _grace(39.0)),
        ("< WORKER_GRACEFUL_SHUTDOWN_SECONDS absent, default 30 + 10 s buffer",),
    ),
    Case(
        "long drain",
        (set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "120"),),
        (
            "=45 < WORKER_GRACEFUL_SHUTDOWN_SECONDS=120 + 10 s buffer; "
            "set terminationGracePeriodSeconds >= 130",
        ),
    ),
    Case(
        "zero drain",
        (set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "0"),),
        ("WORKER_GRACEFUL_SHUTDOWN_SECONDS=0 leaves no time to finish in-flight tasks",),
    ),
    Case(
        "not a number",
        (set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "thirty"),),
        ('WORKER_GRACEFUL_SHUTDOWN_SECONDS="thirty" is not a number',),
    ),
    Case(
        "buffer 20 configured",
        (),
        ("+ 20 s buffer; set terminationGracePeriodSeconds >= 50",),
        ShutdownSettings(buffer_seconds=20.0),
    ),
    Case(
        "both problems",
        (_drop_prestop, _grace(10.0)),
        ("has no preStop hook", "terminationGracePeriodSeconds=10 <"),
    ),
    # Unknown or unknowable values never produce a violation.
    Case("unknown grace", (_grace(UNKNOWN),)),
    Case("unknown lifecycle", (_container_set("lifecycle", UNKNOWN),)),
    Case(
        "unknown shutdown env", (set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", UNKNOWN), _grace(5.0))
    ),
    Case(
        "shutdown from a ConfigMap key",
        (
            set_env(
                "WORKER_GRACEFUL_SHUTDOWN_SECONDS",
                value_from={"configMapKeyRef": {"name": "x", "key": "y"}},
            ),
            _grace(5.0),
        ),
    ),
    Case(
        "shutdown may come from envFrom",
        (
            drop_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS"),
            _container_set("envFrom", [{"configMapRef": {"name": "tuning"}}]),
            _grace(5.0),
        ),
    ),
]


@pytest.mark.parametrize("case", SHUTDOWN_CASES, ids=[c.id for c in SHUTDOWN_CASES])
def test_check_graceful_shutdown(case: Case) -> None:
    messages = check_graceful_shutdown(workload(*case.edits), case.settings)
    assert len(messages) == len(case.expected), messages
    for message, fragment in zip(messages, case.expected, strict=True):
        assert fragment in message


ADVISORY_CASES: list[tuple[str, Callable[[Workload], list[str]], Case]] = [
    ("image", advisory.check_image_pinned, Case("digest", ())),
    (
        "image",
        advisory.check_image_pinned,
        Case(
            "tag only",
            (_container_set("image", "ghcr.io/acme/worker:1.4"),),
            ('image "ghcr.io/acme/worker:1.4" is pinned by tag only; pin it by digest',),
        ),
    ),
    (
        "image",
        advisory.check_image_pinned,
        Case("latest", (_container_set("image", "acme/worker:latest"),), ("mutable tag latest",)),
    ),
    (
        "image",
        advisory.check_image_pinned,
        Case("no tag", (_container_set("image", "registry:5000/worker"),), ("has no tag",)),
    ),
    (
        "image",
        advisory.check_image_pinned,
        Case("unknown image", (_container_set("image", UNKNOWN),)),
    ),
    ("resources", advisory.check_resources, Case("all set", ())),
    (
        "resources",
        advisory.check_resources,
        Case(
            "no limits",
            (_container_set("resources", {"requests": {"cpu": "1", "memory": "1Gi"}}),),
            ('container "worker" has no resources.limits.memory',),
        ),
    ),
    (
        "resources",
        advisory.check_resources,
        Case(
            "none",
            (_container_pop("resources"),),
            ("has no resources.requests.cpu, resources.requests.memory, resources.limits.memory",),
        ),
    ),
    (
        "resources",
        advisory.check_resources,
        Case("unknown", (_container_set("resources", UNKNOWN),)),
    ),
    ("probes", advisory.check_probes, Case("both", ())),
    (
        "probes",
        advisory.check_probes,
        Case(
            "no readiness",
            (_container_pop("readinessProbe"),),
            ("has no readinessProbe; add httpGet /readyz",),
        ),
    ),
    (
        "probes",
        advisory.check_probes,
        Case(
            "neither",
            (_container_pop("readinessProbe"), _container_pop("livenessProbe")),
            ("no readinessProbe", "no livenessProbe; add httpGet /healthz"),
        ),
    ),
    ("probes", advisory.check_probes, Case("unknown", (_container_set("livenessProbe", UNKNOWN),))),
    ("security", advisory.check_security_context, Case("hardened", ())),
    (
        "security",
        advisory.check_security_context,
        Case(
            "no context anywhere",
            (_container_pop("securityContext"), lambda p: pod(p).pop("securityContext")),
            (
                "securityContext has runAsNonRoot unset, readOnlyRootFilesystem unset, "
                "allowPrivilegeEscalation unset; set runAsNonRoot: true, "
                "readOnlyRootFilesystem: true, allowPrivilegeEscalation: false",
            ),
        ),
    ),
    (
        "security",
        advisory.check_security_context,
        Case(
            "pod-level runAsUser suffices for non-root",
            (
                lambda p: container(p)["securityContext"].pop("runAsNonRoot"),
                lambda p: pod(p).__setitem__("securityContext", {"runAsUser": 1000.0}),
            ),
        ),
    ),
    (
        "security",
        advisory.check_security_context,
        Case(
            "privileged",
            (lambda p: container(p)["securityContext"].__setitem__("privileged", True),),
            ("securityContext has privileged=true; set privileged: false",),
        ),
    ),
    (
        "security",
        advisory.check_security_context,
        Case("unknown", (_container_set("securityContext", UNKNOWN),)),
    ),
    ("spread", advisory.check_spread, Case("topology spread by hostname", ())),
    (
        "spread",
        advisory.check_spread,
        Case(
            "none",
            (lambda p: pod(p).pop("topologySpreadConstraints"),),
            ("nothing keeps its pods off a single node",),
        ),
    ),
    (
        "spread",
        advisory.check_spread,
        Case(
            "anti-affinity instead",
            (
                lambda p: pod(p).pop("topologySpreadConstraints"),
                lambda p: pod(p).__setitem__(
                    "affinity",
                    {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100.0,
                                    "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"},
                                }
                            ]
                        }
                    },
                ),
            ),
        ),
    ),
    (
        "spread",
        advisory.check_spread,
        Case(
            "zone only",
            (
                lambda p: pod(p)["topologySpreadConstraints"][0].__setitem__(
                    "topologyKey", "topology.kubernetes.io/zone"
                ),
            ),
            ("nothing keeps its pods off a single node",),
        ),
    ),
    (
        "spread",
        advisory.check_spread,
        Case("unknown", (lambda p: pod(p).__setitem__("topologySpreadConstraints", UNKNOWN),)),
    ),
    ("credentials", advisory.check_credentials, Case("secretKeyRef", ())),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "literal api key",
            (set_env("TEMPORAL_API_KEY", "tk_live_abcdef"),),
            (
                'container "worker" sets TEMPORAL_API_KEY as a literal env value; '
                "use env.valueFrom.secretKeyRef",
            ),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "api key from a ConfigMap",
            (
                set_env(
                    "TEMPORAL_API_KEY", value_from={"configMapKeyRef": {"name": "c", "key": "k"}}
                ),
            ),
            ("reads TEMPORAL_API_KEY from a ConfigMap",),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "secret-looking name",
            (set_env("DB_PASSWORD", "hunter2"),),
            ("sets DB_PASSWORD as a literal",),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "secret-looking value",
            (set_env("EXTRA", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"),),
            ("sets EXTRA as a literal",),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "a path is not a secret", (set_env("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "/etc/ca.crt"),)
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "tls key outside a mounted Secret",
            (set_env("TEMPORAL_TLS_CLIENT_KEY_PATH", "/etc/workerkit/tls.key"),),
            (
                "reads TEMPORAL_TLS_CLIENT_KEY_PATH=/etc/workerkit/tls.key "
                "from outside any mounted Secret",
            ),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case(
            "tls key in a mounted Secret",
            (
                set_env("TEMPORAL_TLS_CLIENT_KEY_PATH", "/etc/temporal/tls/tls.key"),
                lambda p: pod(p)["volumes"].append(
                    {"name": "tls", "secret": {"secretName": "tls"}}
                ),
                lambda p: container(p)["volumeMounts"].append(
                    {"name": "tls", "mountPath": "/etc/temporal/tls"}
                ),
            ),
        ),
    ),
    (
        "credentials",
        advisory.check_credentials,
        Case("unknown literal", (set_env("TEMPORAL_API_KEY", UNKNOWN),)),
    ),
]


@pytest.mark.parametrize(
    ("rule", "case"),
    [(rule, case) for _, rule, case in ADVISORY_CASES],
    ids=[f"{group}: {case.id}" for group, _, case in ADVISORY_CASES],
)
def test_advisory_rule(rule: Callable[[Workload], list[str]], case: Case) -> None:
    messages = rule(workload(*case.edits))
    assert len(messages) == len(case.expected), messages
    for message, fragment in zip(messages, case.expected, strict=True):
        assert fragment in message
        assert message.startswith('Deployment billing-worker (queue "billing")')


def test_credential_messages_never_echo_the_secret() -> None:
    messages = advisory.check_credentials(workload(set_env("TEMPORAL_API_KEY", "tk_live_abcdef")))
    assert messages and all("tk_live_abcdef" not in m for m in messages)
