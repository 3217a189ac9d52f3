"""Run the Pulumi program (`infra/__main__.py`) under Pulumi mocks and record what it registers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import runpy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.contract import PROJECT
from infra.settings import StackSettings
from infra.versions import observe as observe_module
from infra.versions.observe import QueueObservation

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "infra" / "__main__.py"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""Key marking a secret value in deserialized Pulumi property maps."""
K8S_VERSION = "1.34.0"
"""Kubernetes version whose OpenAPI schema (from kubernetes-validate) every object must pass."""


@dataclass
class Registration:
    """One resource the program registered with the (mock) engine."""

    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str


@dataclass
class ProgramRun:
    """What one program run registered and exported."""

    registrations: list[Registration] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Registration]:
        """Registrations of one resource type token."""
        return [r for r in self.registrations if r.typ == typ]

    def k8s_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object, as the provider receives it (secrets unwrapped, ints kept)."""
        return [
            normalise(r.inputs)
            for r in self.registrations
            if r.typ.startswith("kubernetes:") and "apiVersion" in r.inputs
        ]


def fake_digest(text: str) -> str:
    """A deterministic sha256 digest for a mocked image build."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every registration and fill the image builders' digest outputs."""

    def __init__(self, on_registration: Callable[[Registration], None] | None = None) -> None:
        self.run = ProgramRun()
        self.on_registration = on_registration

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Record the registration; outputs are the inputs plus the image digests."""
        registration = Registration(args.typ, args.name, dict(args.inputs), args.provider or "")
        self.run.registrations.append(registration)
        if self.on_registration is not None:
            self.on_registration(registration)
        state = dict(args.inputs)
        if args.typ == "docker-build:index:Image":
            state["digest"] = fake_digest(args.name)
        if args.typ == "docker:index/image:Image":
            repository = str(args.inputs["imageName"]).rsplit(":", 1)[0]
            state["repoDigest"] = f"{repository}@{fake_digest(args.name)}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        """The program makes no invokes."""
        raise AssertionError(f"unexpected invoke {args.token}")


def _ensure_event_loop() -> None:
    """Pulumi's mocks use the thread's current loop, which `asyncio.run` elsewhere unsets."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(
    config: dict[str, Any],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
    preview: bool = False,
    raw: dict[str, str] | None = None,
    on_registration: Callable[[Registration], None] | None = None,
    logger: logging.Logger | None = None,
    observations: Mapping[str, QueueObservation] | None = None,
) -> ProgramRun:
    """Run `infra/__main__.py` with `config` (top-level keys without the project prefix).

    `raw` gives config values verbatim (not JSON-encoded). Raises whatever the program raises
    (after the mock engine drained its RPCs); `on_registration` sees registrations as they happen;
    `logger` receives the engine log (diagnostics the CLI would print). `observations` is what the
    versioned path sees of the cluster and Temporal per queue (default: nothing deployed yet).
    """
    _ensure_event_loop()
    mocks = RecordingMocks(on_registration)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, logger=logger)
    values = {f"{PROJECT}:{key}": json.dumps(value) for key, value in config.items()}
    values.update({f"{PROJECT}:{key}": value for key, value in (raw or {}).items()})
    pulumi.runtime.set_all_config(
        values,
        [f"{PROJECT}:{key}" for key in secret_keys],
    )

    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    def observer(settings: StackSettings, _root: Path) -> dict[str, QueueObservation]:
        given = dict(observations or {})
        return {q.task_queue: given.get(q.task_queue, QueueObservation()) for q in settings.queues}

    saved = list(observe_module.OBSERVER)
    observe_module.OBSERVER[:] = [observer]
    try:
        _sync_await(run_pulumi_func(program))
    finally:
        observe_module.OBSERVER[:] = saved
    root = pulumi_settings.get_root_resource()
    outputs: dict[str, Any] = getattr(root, "outputs", {})
    for name, value in outputs.items():
        out = pulumi.Output.from_input(value)
        mocks.run.exports[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            mocks.run.secret_exports.add(name)
    return mocks.run


def stack_file_config(stack: str) -> dict[str, Any]:
    """The config of `Pulumi.<stack>.yaml`, keyed without the project prefix."""
    data = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    prefix = f"{PROJECT}:"
    return {key[len(prefix) :]: value for key, value in data["config"].items()}


def stack_files() -> list[str]:
    """Names of every stack file in the repo (Pulumi.<name>.yaml)."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))


def normalise(value: Any) -> Any:
    """Unwrap secrets and turn integral floats (how the engine sends numbers) into ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return normalise(value["value"])
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in `value` that is not inside a secret wrapper."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None:
            return
        for key, item in value.items():
            yield str(key)
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
    elif isinstance(value, str):
        yield value


class EngineLog(logging.Handler):
    """Collects what the program logs to the engine (what the CLI shows as diagnostics)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[int, str]] = []
        self.logger = logging.getLogger(f"engine-log-{id(self)}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the level and message."""
        self.records.append((record.levelno, record.getMessage()))

    def errors(self) -> list[str]:
        """Messages logged at error level."""
        return [message for level, message in self.records if level >= logging.ERROR]


def mocks_reset() -> None:
    """Leave no mock runtime behind for other test modules."""
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config({}, [])
