"""Advisory rules on worker workloads, drawn from kube-linter, Polaris, kube-score and Kyverno.

Each takes a `Workload` and returns messages; a value unknown during preview skips its check.
"""

from __future__ import annotations

import re
from typing import Any

from .values import as_dict, as_list, as_number, get, is_unknown
from .workloads import Container, Workload, container_name

NODE_TOPOLOGY_KEY = "kubernetes.io/hostname"
API_KEY_ENV = "TEMPORAL_API_KEY"
TLS_FILE_ENVS = ("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH")
SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_?KEY|ACCESS_?KEY)(_|$)"
)
NOT_SECRET_SUFFIX = re.compile(r"_(PATH|FILE|DIR|NAME|REF|URL|ENDPOINT|SECONDS|ID)$")
SECRET_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|^eyJ[\w-]{10,}\.[\w-]{10,}\.")


def _pod_containers(workload: Workload) -> list[Container]:
    """Every container of the pod template, init containers included."""
    found: list[Container] = []
    for field in ("initContainers", "containers"):
        for i, spec in enumerate(as_list(get(workload.pod_spec, field))):
            if isinstance(spec, dict):
                found.append(Container(name=container_name(spec, i), spec=spec))
    return found


def _where(workload: Workload, container: Container) -> str:
    return f'{workload.display}: container "{container.name}"'


def check_image_pinned(workload: Workload) -> list[str]:
    """Images must be pinned by digest: no tag-only reference, no `latest`, no missing tag."""
    messages = []
    for container in _pod_containers(workload):
        image = container.spec.get("image")
        if not isinstance(image, str) or is_unknown(image) or "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None:
            found = "has no tag (means the mutable latest)"
        elif tag == "latest":
            found = "uses the mutable tag latest"
        else:
            found = "is pinned by tag only"
        messages.append(
            f'{_where(workload, container)} image "{image}" {found}; '
            "pin it by digest (name@sha256:<digest>)"
        )
    return messages


def check_resources(workload: Workload) -> list[str]:
    """Worker containers request CPU and memory and set a memory limit."""
    messages = []
    for container in workload.containers:
        resources = container.spec.get("resources")
        if is_unknown(resources):
            continue
        missing: list[str] = []
        for section, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            value = get(resources, section, key)
            if is_unknown(value):
                missing = []
                break
            if value is None or value == "":
                missing.append(f"{section}.{key}")
        if missing:
            messages.append(
                f"{_where(workload, container)} has no resources.{', resources.'.join(missing)}; "
                "set requests.cpu, requests.memory and limits.memory"
            )
    return messages


def check_probes(workload: Workload) -> list[str]:
    """Worker containers have readiness and liveness probes (workerkit: /readyz and /healthz)."""
    messages = []
    for container in workload.containers:
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            value = container.spec.get(probe)
            if value is None:
                messages.append(
                    f"{_where(workload, container)} has no {probe}; add httpGet {path} "
                    "on the WORKER_HEALTH_PORT (default 8080)"
                )
    return messages


def _effective(container: Container, pod_context: Any, key: str) -> Any:
    """A security setting from the container's securityContext, else the pod's."""
    value = get(container.spec, "securityContext", key)
    if value is None and key in ("runAsNonRoot", "runAsUser"):
        value = get(pod_context, key)
    return value


def _shown(value: Any) -> str:
    """`=false`, `=0` or ` unset`: a setting as found, for messages."""
    if value is None:
        return " unset"
    if isinstance(value, bool):
        return f"={str(value).lower()}"
    return f"={value}"


def check_security_context(workload: Workload) -> list[str]:
    """Worker containers run as non-root, on a read-only root filesystem, without escalation."""
    messages = []
    pod_context = get(workload.pod_spec, "securityContext")
    for container in workload.containers:
        context = container.spec.get("securityContext")
        if is_unknown(context) or is_unknown(pod_context):
            continue
        found: list[str] = []
        wanted: list[str] = []
        non_root = _effective(container, pod_context, "runAsNonRoot")
        user = _effective(container, pod_context, "runAsUser")
        user_number = as_number(user)
        if not (is_unknown(non_root) or is_unknown(user)) and not (
            non_root is True or (user_number is not None and user_number > 0)
        ):
            found.append(f"runAsNonRoot{_shown(non_root)}")
            wanted.append("runAsNonRoot: true")
        read_only = get(context, "readOnlyRootFilesystem")
        if not is_unknown(read_only) and read_only is not True:
            found.append(f"readOnlyRootFilesystem{_shown(read_only)}")
            wanted.append("readOnlyRootFilesystem: true")
        escalation = get(context, "allowPrivilegeEscalation")
        privileged = get(context, "privileged")
        if not (is_unknown(escalation) or is_unknown(privileged)):
            if privileged is True:
                found.append("privileged=true")
                wanted.append("privileged: false")
            if escalation is not False:
                found.append(f"allowPrivilegeEscalation{_shown(escalation)}")
                wanted.append("allowPrivilegeEscalation: false")
        if found:
            messages.append(
                f"{_where(workload, container)} securityContext has {', '.join(found)}; "
                f"set {', '.join(wanted)}"
            )
    return messages


def _spreads_over_nodes(pod_spec: Any) -> bool | None:
    """True when pods are spread or anti-affine by node; None while that is unknown."""
    constraints = get(pod_spec, "topologySpreadConstraints")
    anti = get(pod_spec, "affinity", "podAntiAffinity")
    if is_unknown(constraints) or is_unknown(anti):
        return None
    keys = [get(c, "topologyKey") for c in as_list(constraints)]
    anti = as_dict(anti)
    for term in as_list(anti.get("requiredDuringSchedulingIgnoredDuringExecution")):
        keys.append(get(term, "topologyKey"))
    for weighted in as_list(anti.get("preferredDuringSchedulingIgnoredDuringExecution")):
        keys.append(get(weighted, "podAffinityTerm", "topologyKey"))
    if any(is_unknown(key) for key in keys):
        return None
    return NODE_TOPOLOGY_KEY in keys


def check_spread(workload: Workload) -> list[str]:
    """Worker pods are spread across nodes (topology spread or pod anti-affinity by hostname)."""
    if _spreads_over_nodes(workload.pod_spec) is not False:
        return []
    return [
        f"{workload.display}: nothing keeps its pods off a single node; add "
        f"topologySpreadConstraints (topologyKey {NODE_TOPOLOGY_KEY}, maxSkew 1) "
        "or a podAntiAffinity on that key"
    ]


def _secret_mount_paths(workload: Workload, container: Container) -> list[str] | None:
    """Mount paths of Secret-backed volumes (secret, projected secrets, CSI); None if unknown."""
    volumes = get(workload.pod_spec, "volumes")
    mounts = container.spec.get("volumeMounts")
    if is_unknown(volumes) or is_unknown(mounts):
        return None
    secret_volumes = set()
    for volume in as_list(volumes):
        volume = as_dict(volume)
        sources = as_list(get(volume, "projected", "sources"))
        if (
            volume.get("secret") is not None
            or volume.get("csi") is not None
            or any(as_dict(source).get("secret") is not None for source in sources)
        ):
            secret_volumes.add(volume.get("name"))
    paths = []
    for mount in as_list(mounts):
        mount = as_dict(mount)
        path = mount.get("mountPath")
        if is_unknown(path) or is_unknown(mount.get("name")):
            return None
        if mount.get("name") in secret_volumes and isinstance(path, str):
            paths.append(path.rstrip("/") + "/")
    return paths


def _credential_problems(workload: Workload, container: Container) -> list[str]:
    problems = []
    for entry in as_list(container.spec.get("env")):
        entry = as_dict(entry)
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or is_unknown(name):
            continue
        from_config_map = get(entry, "valueFrom", "configMapKeyRef")
        if name == API_KEY_ENV and from_config_map is not None and not is_unknown(from_config_map):
            problems.append(f"reads {name} from a ConfigMap")
            continue
        if not isinstance(value, str) or not value or is_unknown(value):
            continue
        looks_secret = SECRET_NAME.search(name) and not NOT_SECRET_SUFFIX.search(name)
        if name == API_KEY_ENV or looks_secret or SECRET_VALUE.search(value):
            problems.append(f"sets {name} as a literal env value")
    secret_paths = None
    for name in TLS_FILE_ENVS:
        value = next(
            (
                as_dict(e).get("value")
                for e in as_list(container.spec.get("env"))
                if as_dict(e).get("name") == name
            ),
            None,
        )
        if not isinstance(value, str) or not value or is_unknown(value):
            continue
        secret_paths = (
            secret_paths if secret_paths is not None else _secret_mount_paths(workload, container)
        )
        if secret_paths is None:
            return problems
        if not any(value.startswith(path) for path in secret_paths):
            problems.append(f"reads {name}={value} from outside any mounted Secret")
    return problems


def check_credentials(workload: Workload) -> list[str]:
    """Temporal credentials come only from Secrets: secretKeyRef env or mounted Secret files."""
    messages = []
    for container in _pod_containers(workload):
        for problem in _credential_problems(workload, container):
            messages.append(
                f"{_where(workload, container)} {problem}; use env.valueFrom.secretKeyRef "
                "or a file from a mounted Secret volume"
            )
    return messages
