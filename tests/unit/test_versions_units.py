"""Build ids, version object names and the control connection's credential rule (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.specs.release import Release, workload_name
from infra.versions.build_id import context_files, from_context, from_digest
from infra.versions.observe import control_connection, missing_credentials
from tests.infra.samples import base_config, only_queue, settings_of

pytestmark = pytest.mark.unit


def test_digest_build_id_is_stable_and_short() -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    assert from_digest(digest) == "sha256-0123456789abcdef"
    assert from_digest(f"ghcr.io/acme/worker@{digest}") == "sha256-0123456789abcdef"
    with pytest.raises(ValueError, match="not a sha256 image digest"):
        from_digest("sha256:abc")


def test_context_build_id_follows_the_kept_files_only(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "flows.py").write_text("v1")
    (tmp_path / "app" / "__pycache__").mkdir()
    (tmp_path / "app" / "__pycache__" / "flows.pyc").write_text("cache")
    (tmp_path / "README.md").write_text("docs")
    (tmp_path / ".dockerignore").write_text("**/__pycache__\n*.md\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    kept = [p.relative_to(tmp_path).as_posix() for p in context_files(tmp_path)]
    assert kept == [".dockerignore", "Dockerfile", "app/flows.py"]
    first = from_context(tmp_path, dockerfile, {"VERSION": "1"})
    assert first.startswith("ctx-") and len(first) == 20
    (tmp_path / "README.md").write_text("other docs")  # ignored: same build
    assert from_context(tmp_path, dockerfile, {"VERSION": "1"}) == first
    assert from_context(tmp_path, dockerfile, {"VERSION": "2"}) != first
    (tmp_path / "app" / "flows.py").write_text("v2")  # new code: new version
    assert from_context(tmp_path, dockerfile, {"VERSION": "1"}) != first


def test_version_workload_names_fit_and_never_collide() -> None:
    config = base_config()
    config["queues"] = {"q" * 40: {"app": "a.b:c"}}
    queue = only_queue(settings_of(config))
    names = {
        workload_name(queue, Release(build, "target"))
        for build in ("Release_1", "release-1", "release_1", "x" * 120, "x" * 121)
    }
    assert len(names) == 5
    assert all(len(name) <= 63 for name in names)
    assert workload_name(queue, None) == queue.workload_name


def _staging_like(api_key_ref: bool) -> dict[str, Any]:
    config = base_config()
    config["versioning"] = {"enabled": True}
    if api_key_ref:
        config["temporal"]["apiKeySecretRef"] = {"name": "tc", "key": "api-key"}
    return config


def test_pulumi_needs_its_own_credentials_when_the_workers_authenticate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEMPORAL_API_KEY", raising=False)
    settings = settings_of(_staging_like(api_key_ref=True))
    conn = control_connection(settings)
    assert missing_credentials(settings, conn) == (
        "no API key for pulumi (set TEMPORAL_API_KEY in its environment)"
    )
    monkeypatch.setenv("TEMPORAL_API_KEY", "k")
    conn = control_connection(settings)
    assert conn.api_key == "k" and missing_credentials(settings, conn) is None
    plain = settings_of(_staging_like(api_key_ref=False))
    assert missing_credentials(plain, control_connection(plain)) is None


def test_a_control_address_of_its_own_is_the_users_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEMPORAL_API_KEY", raising=False)
    config = _staging_like(api_key_ref=True)
    config["temporal"]["tls"] = {"enabled": True}
    config["versioning"] = {
        "enabled": True,
        "controlAddress": "127.0.0.1:7233",
        "controlTls": False,
    }
    settings = settings_of(config)
    conn = control_connection(settings)
    assert (conn.address, conn.tls) == ("127.0.0.1:7233", False)
    assert missing_credentials(settings, conn) is None
