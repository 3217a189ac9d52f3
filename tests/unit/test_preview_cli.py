"""Unit tests of the preview-stack tool: parsing, validation, lifetimes, the stack file, output."""

from __future__ import annotations

import io
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.automation import EngineEvent

from infra.preview import cli, stackfile
from infra.preview.cluster import check_reachable, resolve_api_server
from infra.preview.model import (
    Lifetime,
    PreviewError,
    PreviewStack,
    check_image_ref,
    describe_expiry,
    format_age,
    format_duration,
    format_stamp,
    namespace_name,
    parse_duration,
    parse_pr_number,
    parse_stamp,
    plan_lifetime,
    pr_of_stack,
)
from infra.preview.progress import EngineProgress
from infra.specs.namespace import namespace_object
from infra.validate import parse_stack_settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 23, 0, 0, tzinfo=UTC)
DIGEST_A = "ghcr.io/acme/worker@sha256:" + "a" * 64
DIGEST_B = "ghcr.io/acme/worker@sha256:" + "b" * 64


# -- PR numbers, names ---------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [("1", 1), ("12", 12), ("999999999", 999_999_999)])
def test_pr_number_accepts_positive_integers(text: str, expected: int) -> None:
    assert parse_pr_number(text) == expected


@pytest.mark.parametrize("text", ["0", "-3", "012", "abc", "1e3", "12a", "", "1000000000", "+5"])
def test_pr_number_rejects_bad_input(text: str) -> None:
    with pytest.raises(PreviewError, match="bad PR number") as info:
        parse_pr_number(text)
    assert info.value.exit_code == 2


def test_names_follow_the_pr_number() -> None:
    assert namespace_name(12) == "temporal-workers-pr-12"
    assert len(namespace_name(999_999_999)) <= 63
    assert pr_of_stack("pr-12") == 12
    assert pr_of_stack("acme/temporal-workers/pr-7") == 7
    assert pr_of_stack("prod") is None
    assert pr_of_stack("pr-012") is None


# -- durations, ages, timestamps -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,seconds,canonical",
    [("72h", 259200, "3d"), ("3d", 259200, "3d"), ("90s", 90, "1m30s"), ("1h30m", 5400, "1h30m")],
)
def test_durations_parse_and_format(text: str, seconds: int, canonical: str) -> None:
    delta = parse_duration(text)
    assert delta == timedelta(seconds=seconds)
    assert format_duration(delta) == canonical
    assert parse_duration(canonical) == delta


@pytest.mark.parametrize("text", ["", "5", "5x", "h", "-1h", "0s", "1.5h", "3 days"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(PreviewError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "0s"),
        (42, "42s"),
        (300, "5m"),
        (312, "5m12s"),
        (3600, "1h"),
        (11520, "3h12m"),
        (86400, "1d"),
        (2 * 86400 + 3 * 3600 + 59, "2d3h"),
        (-5, "0s"),
    ],
)
def test_age_format(seconds: int, text: str) -> None:
    assert format_age(timedelta(seconds=seconds)) == text


def test_stamps_round_trip_and_are_label_values() -> None:
    stamp = format_stamp(NOW)
    assert stamp == "20261125T230000Z"
    assert parse_stamp(stamp) == NOW
    with pytest.raises(PreviewError):
        parse_stamp("2026-11-25T23:00:00Z")


def test_image_ref_must_be_by_digest() -> None:
    assert check_image_ref(DIGEST_A) == DIGEST_A
    for bad in ["ghcr.io/acme/worker:latest", "ghcr.io/acme/worker@sha256:abc", "x y"]:
        with pytest.raises(PreviewError, match="bad image reference"):
            check_image_ref(bad)


# -- lifetimes -------------------------------------------------------------------------------------
def test_new_stack_gets_default_ttl() -> None:
    life = plan_lifetime(12, None, NOW, None, None)
    assert life.created_at == NOW
    assert life.expires_at == NOW + timedelta(hours=72)
    assert life.tags()["preview:ttl"] == "3d"


def test_rerun_with_same_inputs_keeps_the_lifetime() -> None:
    first = plan_lifetime(12, None, NOW, parse_duration("1d"), DIGEST_A)
    later = NOW + timedelta(hours=5)
    assert plan_lifetime(12, first, later, None, None) == first
    assert plan_lifetime(12, first, later, parse_duration("24h"), DIGEST_A) == first


def test_new_image_ttl_or_renew_moves_only_the_expiry() -> None:
    first = plan_lifetime(12, None, NOW, parse_duration("1d"), DIGEST_A)
    later = NOW + timedelta(hours=5)
    pushed = plan_lifetime(12, first, later, None, DIGEST_B)
    assert (pushed.created_at, pushed.expires_at, pushed.image_ref) == (
        NOW,
        later + timedelta(days=1),
        DIGEST_B,
    )
    longer = plan_lifetime(12, first, later, parse_duration("2d"), None)
    assert longer.expires_at == later + timedelta(days=2) and longer.image_ref == DIGEST_A
    renewed = plan_lifetime(12, first, later, None, None, renew=True)
    assert renewed.expires_at == later + timedelta(days=1) and renewed.created_at == NOW


def test_lifetime_tags_round_trip() -> None:
    life = plan_lifetime(12, None, NOW, parse_duration("36h"), DIGEST_A)
    assert Lifetime.from_tags(life.tags()) == life
    assert Lifetime.from_tags({"preview:pr": "12"}) is None
    broken = {**life.tags(), "preview:created-at": "yesterday"}
    assert Lifetime.from_tags(broken) is None


def _stack(created: datetime | None, ttl: str = "1d", last: datetime | None = None) -> PreviewStack:
    life = None
    if created is not None:
        life = plan_lifetime(3, None, created, parse_duration(ttl), None)
    return PreviewStack("pr-3", 3, life, last, 10)


def test_staleness_by_own_expiry_or_by_ttl() -> None:
    young, old = _stack(NOW - timedelta(hours=2)), _stack(NOW - timedelta(days=2))
    assert not young.is_stale(NOW, None) and old.is_stale(NOW, None)
    assert young.is_stale(NOW, timedelta(hours=1))
    assert not young.is_stale(NOW, timedelta(hours=3))
    hand_made = _stack(None, last=NOW - timedelta(days=5))
    assert not hand_made.is_stale(NOW, None), "no recorded expiry: only --ttl may collect it"
    assert hand_made.is_stale(NOW, timedelta(days=4))
    assert describe_expiry(young, NOW) == "in 22h"
    assert describe_expiry(old, NOW) == "expired 1d ago"
    assert describe_expiry(hand_made, NOW) == "-"


# -- the stack file --------------------------------------------------------------------------------
def _settings(config: dict[str, Any], stack: str) -> Any:
    prefix = "temporal-workers:"
    values = {key[len(prefix) :]: value for key, value in config.items()}
    return parse_stack_settings("temporal-workers", stack, values, set())


def test_rendered_config_is_valid_and_carries_the_ttl_labels() -> None:
    template = stackfile.load_template(REPO)
    life = plan_lifetime(12, None, NOW, parse_duration("2d"), DIGEST_A)
    config = stackfile.render_config(template, life, build_id="pr-12.abc")
    settings = _settings(config, "pr-12")
    assert settings.namespace.name == "temporal-workers-pr-12"
    assert settings.image.ref == DIGEST_A
    labels = namespace_object(settings)["metadata"]["labels"]
    assert labels["preview.temporal-workers/pr"] == "12"
    assert labels["preview.temporal-workers/created-at"] == "20261125T230000Z"
    assert labels["preview.temporal-workers/expires-at"] == "20261127T230000Z"
    assert labels["preview.temporal-workers/ttl"] == "2d"
    assert labels["app.kubernetes.io/instance"] == "pr-12"
    assert template == stackfile.load_template(REPO), "rendering must not modify the template"


def test_stack_file_keeps_cli_keys_and_is_idempotent(tmp_path: Path) -> None:
    path = stackfile.stack_file(tmp_path, 12)
    path.write_text("encryptionsalt: v1:abc\nconfig:\n  temporal-workers:stale: {a: 1}\n")
    life = plan_lifetime(12, None, NOW, None, None)
    config = stackfile.render_config(stackfile.load_template(REPO), life)
    assert stackfile.write_stack_file(path, config) is True
    written = yaml.safe_load(path.read_text())
    assert written["encryptionsalt"] == "v1:abc"
    assert "temporal-workers:stale" not in written["config"]
    assert written["config"] == config
    before = path.read_bytes()
    assert stackfile.write_stack_file(path, config) is False
    assert path.read_bytes() == before


def test_missing_template_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match=r"template .*Pulumi.preview.yaml is missing"):
        stackfile.load_template(tmp_path)


# -- command line: one-line errors, exit codes -----------------------------------------------------
@pytest.mark.parametrize(
    "argv,message",
    [
        (["up", "abc"], "bad PR number 'abc'"),
        (["up", "0"], "bad PR number '0'"),
        (["destroy", "-4"], "bad PR number '-4'"),
        (["up", "12", "--ttl", "soon"], "bad duration 'soon'"),
        (["gc", "--ttl", "0h"], "bad duration '0h'"),
        (["up", "12", "--image-ref", "acme/worker:latest"], "bad image reference"),
        (["up", "12", "--build-id", "no spaces"], "bad build id 'no spaces'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["up"], "the following arguments are required: pr"),
        (["up", "12", "--policy-profile", "lax"], "invalid choice: 'lax'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(argv, env={"PATH": ""})
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("preview: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_cli_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["list"], env={"PATH": str(tmp_path)})
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "preview: pulumi CLI not found on PATH: install it (CI: pulumi/actions) or use the kit's "
        "own engine: `source scripts/pulumi-env.sh` (the make targets do that themselves)\n"
    )


def test_parse_args_types_values() -> None:
    args = cli.parse_args(["up", "12", "--ttl", "36h", "--image-ref", DIGEST_A, "--renew"])
    assert (args.pr, args.ttl, args.image_ref, args.renew) == (
        12,
        timedelta(hours=36),
        DIGEST_A,
        True,
    )
    assert args.policy_profile == "preview"
    gc = cli.parse_args(["gc"])
    assert gc.ttl is None and gc.dry_run is False


def test_table_alignment() -> None:
    rows = [
        {"stack": "pr-3", "age": "2d3h"},
        {"stack": "pr-12", "age": "5m"},
    ]
    assert cli.format_table(rows).splitlines() == [
        "STACK  AGE",
        "pr-3   2d3h",
        "pr-12  5m",
    ]
    assert cli.format_table([]) == "no preview stacks"


# -- cluster reachability --------------------------------------------------------------------------
def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "ctx",
                "contexts": [
                    {"name": "other", "context": {"cluster": "nope"}},
                    {"name": "ctx", "context": {"cluster": "c1", "user": "u"}},
                ],
                "clusters": [{"name": "c1", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    return path


def test_api_server_from_current_context(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443")
    server = resolve_api_server({"KUBECONFIG": f"{tmp_path / 'missing'}:{config}"})
    assert server.url == "https://127.0.0.1:6443"
    assert server.address == ("127.0.0.1", 6443)


def test_unreachable_cluster_is_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}")
    with pytest.raises(PreviewError, match=rf"cluster unreachable: https://127.0.0.1:{port} "):
        check_reachable({"KUBECONFIG": str(config)}, timeout=2)


def test_reachable_cluster_passes(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}")
        assert check_reachable({"KUBECONFIG": str(config)}).url.endswith(f":{port}")


def test_no_kubeconfig_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="no kubeconfig found"):
        resolve_api_server({"HOME": str(tmp_path)})


# -- progress lines --------------------------------------------------------------------------------
def _event(kind: str, payload: dict[str, Any]) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, kind: payload})


def test_progress_prints_one_line_per_changed_resource() -> None:
    out = io.StringIO()
    progress = EngineProgress(out=out)
    urn = "urn:pulumi:pr-12::temporal-workers::kubernetes:apps/v1:Deployment::orders-worker"
    step = {"op": "create", "urn": urn, "type": "kubernetes:apps/v1:Deployment", "provider": ""}
    same = {**step, "op": "same", "urn": urn + "-2"}
    progress(_event("resourcePreEvent", {"metadata": step}))
    progress(_event("resOutputsEvent", {"metadata": step}))
    progress(_event("resOutputsEvent", {"metadata": same}))
    diag = {"message": "\x1b[31mboom\x1b[0m\nmore", "color": "never", "severity": "error"}
    progress(_event("diagnosticEvent", diag))
    summary = {"maybeCorrupt": False, "durationSeconds": 4, "resourceChanges": {"create": 1}}
    progress(_event("summaryEvent", {**summary, "policyPacks": {}}))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  + Deployment orders-worker  created (")
    assert "error: boom" in lines[1]
    assert lines[-1] == "  done in 4s: 1 create"
    assert progress.changes == {"create": 1, "same": 1}
    assert progress.first_error() == "boom"
