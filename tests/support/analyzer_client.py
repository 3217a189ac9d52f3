"""Drive a Pulumi policy pack exactly as the engine does, over its Analyzer gRPC protocol.

The engine starts a Python pack as `python -u -m pulumi.policy <engine-address> .` in the pack's
directory (the `pulumi-analyzer-policy-python` shim), reads the port from the first stdout line,
then calls `Handshake` (tolerating UNIMPLEMENTED), `ConfigureStack`, `GetAnalyzerInfo`, `Configure`
(every policy's schema defaults + the `--policy-pack-config` file, validated against the schemas),
`Analyze` for each resource as it is registered and `AnalyzeStack` once at the end. A small fake
Engine gRPC server takes the pack's log calls.

`judge_stack(resources)` is the hook for tests that feed whole stacks (hand-written, generated, or
produced by the kit's own Pulumi program): give it `StackResource`s, get `Diagnostic`s back.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    engine_pb2,
    engine_pb2_grpc,
    plugin_pb2,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_PACK_DIR = REPO_ROOT / "policies"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What the engine sends for a value unknown during preview (MarshalOptions.KeepUnknowns)."""
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
ENFORCEMENT_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
ENFORCEMENT_VALUES = {name: value for value, name in ENFORCEMENT_NAMES.items()}
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]


def secret(value: Any) -> dict[str, Any]:
    """A property value marked secret, as the engine marshals it (KeepSecrets)."""
    return {**SECRET_SIG, "value": value}


def urn_for(
    resource_type: str, name: str, project: str = "temporal-workers", stack: str = "dev"
) -> str:
    """The URN the engine gives a top-level resource."""
    return f"urn:pulumi:{stack}::{project}::{resource_type}::{name}"


@dataclass(frozen=True)
class Provider:
    """The provider resource of a stack resource (its props carry e.g. the default namespace)."""

    urn: str = "urn:pulumi:dev::temporal-workers::pulumi:providers:kubernetes::default"
    type: str = "pulumi:providers:kubernetes"
    name: str = "default"
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackResource:
    """One resource as the engine describes it to analyzers: type, URN, camelCase props."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    parent: str = ""
    provider: Provider | None = None
    dependencies: tuple[str, ...] = ()

    @property
    def resolved_urn(self) -> str:
        """The URN given, else the top-level URN of `type::name`."""
        return self.urn or urn_for(self.type, self.name)


@dataclass(frozen=True)
class Diagnostic:
    """A violation reported by the pack: policy, enforcement level, the rule's message, URN."""

    policy: str
    enforcement: str
    message: str
    urn: str
    description: str

    @property
    def mandatory(self) -> bool:
        """True when this violation blocks the update."""
        return self.enforcement == "mandatory"


@dataclass(frozen=True)
class PolicyInfo:
    """What GetAnalyzerInfo says about one policy."""

    name: str
    description: str
    enforcement: str
    config_schema: dict[str, Any]
    policy_type: int
    severity: int


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(props)))
    return message


def _diagnostics(response: analyzer_pb2.AnalyzeResponse) -> list[Diagnostic]:
    found = []
    for d in response.diagnostics:
        text = d.message
        if d.description and text.startswith(d.description):
            text = text[len(d.description) :].lstrip("\n")
        found.append(
            Diagnostic(
                policy=d.policyName,
                enforcement=ENFORCEMENT_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)),
                message=text,
                urn=d.urn,
                description=d.description,
            )
        )
    return found


def reconcile_config(
    policies: Sequence[PolicyInfo], config: Mapping[str, Any] | None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The engine's ReconcilePolicyPackConfig: schema defaults, then the config file, validated.

    `config` is the parsed `--policy-pack-config` JSON: policy name (or `all`) to an enforcement
    level string or an object with optional `enforcementLevel` and properties.
    Returns policy name -> (enforcement level, properties). Raises ValueError when invalid.
    """
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in policies:
        defaults = {
            key: schema["default"]
            for key, schema in policy.config_schema.get("properties", {}).items()
            if "default" in schema
        }
        result[policy.name] = (policy.enforcement, defaults)
    given: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for name, value in (config or {}).items():
        if isinstance(value, str):
            given[name] = (value, {})
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
            given[name] = (level, props)
        else:
            raise ValueError(f"{name}: must be a string or object")
        level = given[name][0]
        if level is not None and level not in ENFORCEMENT_VALUES:
            raise ValueError(f"{name}: {level!r} is not a valid enforcement level")
    if "all" in given and given["all"][0]:
        result = {name: (str(given["all"][0]), props) for name, (_, props) in result.items()}
    for name, (level, props) in given.items():
        if name == "all":
            continue
        old_level, old_props = result.get(name, ("advisory", {}))
        result[name] = (level or old_level, {**old_props, **props})
    errors = []
    for policy in policies:
        schema = {
            "type": "object",
            "properties": {
                **policy.config_schema.get("properties", {}),
                "enforcementLevel": {"type": "string", "enum": list(ENFORCEMENT_VALUES)},
            },
            "required": list(policy.config_schema.get("required", [])),
        }
        validator = jsonschema.Draft7Validator(schema)
        for error in validator.iter_errors(result[policy.name][1]):
            where = ".".join(str(step) for step in error.absolute_path) or "(root)"
            errors.append(f"{policy.name}: {where}: {error.message}")
    if errors:
        raise ValueError("policy pack configuration is invalid: " + "; ".join(errors))
    return result


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's gRPC service as far as a policy pack uses it: it records log calls."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        with self._lock:
            self.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    @property
    def errors(self) -> list[str]:
        """Messages logged at ERROR severity (a pack logs its crashes there)."""
        with self._lock:
            return [message for severity, message in self.logs if severity == engine_pb2.ERROR]


@contextmanager
def fake_engine() -> Iterator[tuple[FakeEngine, str]]:
    """A FakeEngine served on a free 127.0.0.1 port; yields (servicer, address)."""
    servicer = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


class PackProcess:
    """The policy pack's process, started as the engine starts it; `port` is where it serves."""

    def __init__(
        self,
        engine_address: str,
        pack_dir: Path = POLICY_PACK_DIR,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        cwd: Path | None = None,
    ) -> None:
        """Start the pack. By default as the engine does: in `pack_dir`, program `.`; with `cwd`,
        from there with `pack_dir` as the program path (`python -m pulumi.policy <addr> policies/`).
        """
        program = "." if cwd is None else os.path.relpath(pack_dir, cwd) + os.sep
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", engine_address, program],
            cwd=pack_dir if cwd is None else cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            first = self._lines.get(timeout=startup_timeout)
        except queue.Empty:
            self.stop()
            raise TimeoutError(f"policy pack printed no port in {startup_timeout:.0f}s") from None
        if first is None or not first.strip().isdigit():
            self.stop()
            raise RuntimeError(f"policy pack did not print a port: {first!r}\n{self.stderr}")
        self.port = int(first.strip())

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode(errors="replace"))
        self._lines.put(None)

    @property
    def stderr(self) -> str:
        """What the pack wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the pack (the engine kills its plugins at the end of an operation)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


class AnalyzerSession:
    """An Analyzer client bound to one running pack, speaking the engine's side of the protocol."""

    def __init__(self, port: int) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self._info: analyzer_pb2.AnalyzerInfo | None = None

    def handshake(self, engine_address: str, pack_dir: Path = POLICY_PACK_DIR) -> bool:
        """Handshake as the engine does; False when the pack does not implement it."""
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=engine_address,
            root_directory=str(pack_dir),
            program_directory=str(pack_dir),
        )
        try:
            self.stub.Handshake(request, timeout=30)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise
        return True

    def configure_stack(
        self, stack: str = "dev", project: str = "temporal-workers", dry_run: bool = True
    ) -> None:
        """ConfigureStack: the stack being analyzed."""
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack, project=project, organization="organization", dry_run=dry_run
            ),
            timeout=30,
        )

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        """GetAnalyzerInfo (cached)."""
        if self._info is None:
            self._info = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        return self._info

    def plugin_version(self) -> str:
        """GetPluginInfo: the policy SDK's version."""
        reply: plugin_pb2.PluginInfo = self.stub.GetPluginInfo(empty_pb2.Empty(), timeout=30)
        return reply.version

    def policies(self) -> list[PolicyInfo]:
        """The pack's policies with their default enforcement and config schema."""
        return [
            PolicyInfo(
                name=p.name,
                description=p.description,
                enforcement=ENFORCEMENT_NAMES[p.enforcementLevel],
                config_schema=json_format.MessageToDict(p.configSchema),
                policy_type=p.policy_type,
                severity=p.severity,
            )
            for p in self.info().policies
        ]

    def configure(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Configure with the reconciled config (defaults + `config`); returns what was sent."""
        reconciled = reconcile_config(self.policies(), config)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, props) in reconciled.items():
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=ENFORCEMENT_VALUES[level], properties=_struct(props)
                )
            )
        self.stub.Configure(request, timeout=30)
        return {
            name: {"enforcementLevel": lvl, **props} for name, (lvl, props) in reconciled.items()
        }

    @staticmethod
    def _provider(provider: Provider | None) -> analyzer_pb2.AnalyzerProviderResource | None:
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=provider.type,
            urn=provider.urn,
            name=provider.name,
            properties=_struct(provider.props),
        )

    def analyze(self, resource: StackResource) -> list[Diagnostic]:
        """Analyze one resource (its inputs), as the engine does when it is registered."""
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.resolved_urn,
            name=resource.name,
            properties=_struct(resource.props),
            options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent),
            provider=self._provider(resource.provider),
        )
        found = _diagnostics(self.stub.Analyze(request, timeout=60))
        # The engine attaches a resource policy's diagnostic to the resource being analyzed.
        return [
            d
            if d.urn
            else Diagnostic(d.policy, d.enforcement, d.message, request.urn, d.description)
            for d in found
        ]

    def analyze_stack(self, resources: Iterable[StackResource]) -> list[Diagnostic]:
        """AnalyzeStack over every resource, as the engine does at the end of an operation."""
        return self.send_stack(self.stack_request(resources))

    def send_stack(self, request: analyzer_pb2.AnalyzeStackRequest) -> list[Diagnostic]:
        """Send a prepared AnalyzeStack request (benchmarks time only the pack's side)."""
        return _diagnostics(self.stub.AnalyzeStack(request, timeout=120))

    def stack_request(self, resources: Iterable[StackResource]) -> analyzer_pb2.AnalyzeStackRequest:
        """The AnalyzeStack request the engine would marshal for these resources."""
        return analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    urn=r.resolved_urn,
                    name=r.name,
                    properties=_struct(r.props),
                    options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent),
                    provider=self._provider(r.provider),
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                )
                for r in resources
            ]
        )

    def judge(self, resources: Sequence[StackResource]) -> list[Diagnostic]:
        """Analyze every resource, then AnalyzeStack: everything a preview would report."""
        found: list[Diagnostic] = []
        for resource in resources:
            found += self.analyze(resource)
        return found + self.analyze_stack(resources)

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()


@dataclass
class PolicyPackRun:
    """A running pack with its fake engine and an Analyzer session already configured."""

    engine: FakeEngine
    engine_address: str
    process: PackProcess
    session: AnalyzerSession


def _stack_env(stack: str, project: str, dry_run: bool) -> dict[str, str]:
    """The env the engine gives the pack (constructEnv)."""
    return {
        "PULUMI_ORGANIZATION": "organization",
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "true" if dry_run else "false",
    }


@contextmanager
def policy_pack(
    config: Mapping[str, Any] | None = None,
    pack_dir: Path = POLICY_PACK_DIR,
    stack: str = "dev",
    project: str = "temporal-workers",
    dry_run: bool = True,
) -> Iterator[PolicyPackRun]:
    """Start the pack as the engine does, handshake, ConfigureStack, Configure; stop it on exit."""
    with fake_engine() as (engine, address):
        process = PackProcess(address, pack_dir, _stack_env(stack, project, dry_run))
        session = AnalyzerSession(process.port)
        try:
            session.handshake(address, pack_dir)
            session.configure_stack(stack, project, dry_run)
            session.info()
            session.configure(config)
            yield PolicyPackRun(engine, address, process, session)
        finally:
            session.close()
            process.stop()


def judge_stack(
    resources: Sequence[StackResource],
    config: Mapping[str, Any] | None = None,
    dry_run: bool = True,
) -> list[Diagnostic]:
    """Judge a whole stack with a freshly started pack: every Analyze, then AnalyzeStack.

    The hook for feeding stacks produced by the kit's own Pulumi program: convert each resource of
    the program's output (type token, URN, camelCase props) into a `StackResource`.
    """
    with policy_pack(config=config, dry_run=dry_run) as run:
        return run.session.judge(resources)


def judge_resources(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]],
    config: Mapping[str, Any] | None = None,
) -> list[Diagnostic]:
    """`judge_stack` for plain (type token, URN, camelCase props) triples, e.g. a stack's export.

    The resource name is the last `::` segment of the URN, as in the engine.
    """
    stack = [
        StackResource(type=type_, name=urn.rsplit("::", 1)[-1], props=props, urn=urn)
        for type_, urn, props in resources
    ]
    return judge_stack(stack, config=config)


def load_config_file(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` JSON file."""
    loaded = json.loads(path.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    return loaded
