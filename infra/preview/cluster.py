"""Is the Kubernetes API of the current kubeconfig context reachable? Checked before deploying.

The program's default provider uses the ambient kubeconfig (``$KUBECONFIG``, else
``~/.kube/config``, else the in-cluster service account), so the check resolves the same server:
the current context's cluster URL. It opens a TCP connection to it; failing that, it reports one
line naming the server and where it came from, instead of a provider error minutes later.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from infra.preview.model import PreviewError


@dataclass(frozen=True)
class ApiServer:
    """The API server a kubeconfig context points at."""

    url: str
    source: str

    @property
    def address(self) -> tuple[str, int]:
        """Host and port to connect to (port defaults by scheme)."""
        parts = urlsplit(self.url)
        if not parts.hostname:
            raise PreviewError(f"kubeconfig {self.source}: server {self.url!r} has no host")
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname, parts.port or default


def kubeconfig_paths(env: dict[str, str]) -> list[Path]:
    """The kubeconfig files in effect, as kubectl resolves them."""
    if env.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    home = env.get("HOME") or str(Path.home())
    return [Path(home) / ".kube" / "config"]


def resolve_api_server(env: dict[str, str]) -> ApiServer:
    """The current context's API server (raises :class:`PreviewError` when there is none)."""
    docs = []
    for path in kubeconfig_paths(env):
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise PreviewError(f"kubeconfig {path} is not valid YAML") from exc
            docs.append((path, data if isinstance(data, dict) else {}))
    if not docs:
        if env.get("KUBERNETES_SERVICE_HOST"):
            host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
            return ApiServer(f"https://{host}:{port}", "in-cluster service account")
        where = env.get("KUBECONFIG") or "~/.kube/config"
        raise PreviewError(f"no kubeconfig found ({where}); set KUBECONFIG to reach a cluster")
    current = next((d.get("current-context") for _, d in docs if d.get("current-context")), None)
    if not current:
        raise PreviewError(f"kubeconfig {docs[0][0]} has no current-context")
    cluster_name = None
    for _, data in docs:
        for ctx in data.get("contexts") or []:
            if ctx.get("name") == current:
                cluster_name = (ctx.get("context") or {}).get("cluster")
                break
        if cluster_name:
            break
    for path, data in docs:
        for cluster in data.get("clusters") or []:
            if cluster.get("name") == cluster_name:
                server = (cluster.get("cluster") or {}).get("server")
                if server:
                    return ApiServer(str(server), str(path))
    raise PreviewError(f"kubeconfig context {current!r} names no cluster with a server")


def check_reachable(env: dict[str, str], timeout: float = 5.0) -> ApiServer:
    """Open a TCP connection to the API server; raise :class:`PreviewError` when it fails."""
    server = resolve_api_server(env)
    host, port = server.address
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PreviewError(
            f"cluster unreachable: {server.url} (kubeconfig {server.source}): {reason}"
        ) from exc
    return server
