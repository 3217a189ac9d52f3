"""WorkerImage: build `worker_image/` (docker-build or docker provider) or take a prebuilt digest.

Outputs `ref` (always `<repository>@sha256:...`, what workloads use), `digest` and `build_id`.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_docker_build as docker_build
from pulumi.runtime.rpc import UNKNOWN

from infra.settings import ImageSettings
from infra.versions import build_id as build_ids


def build_args(image: ImageSettings, build_id: str = "") -> dict[str, str]:
    """Docker build args of `worker_image/Dockerfile` (BASE_IMAGE only when configured)."""
    args = {
        "BUILD_ID": build_id,
        "VERSION": image.version,
        "REVISION": image.revision,
        "SOURCE": image.source_url,
        "WHEELHOUSE": image.wheelhouse,
    }
    if image.base_image:
        args["BASE_IMAGE"] = image.base_image
    return args


def digest_ref(repository: str, digest: str) -> str:
    """`<repository>@<digest>`; an already qualified `repo@sha256:...` is returned as is.

    In a preview of a changed build (which does not build) the provider reports an empty digest:
    the ref is then unknown, as on a new stack, rather than an error.
    """
    if "@" in digest:
        return digest
    if not digest and pulumi.runtime.is_dry_run():
        # The SDK's unknown sentinel: an apply that returns it yields an unknown output.
        return str(UNKNOWN)
    if not digest.startswith("sha256:"):
        raise pulumi.RunError(
            f"the image build of {repository} reported no digest (got {digest!r}); "
            "set temporal-workers:image.push to true or use image.source prebuilt"
        )
    return f"{repository}@{digest}"


def resolve_build_id(image: ImageSettings, root: Path) -> str:
    """`image.buildId` if set; else the prebuilt digest's id, or the hash of what the build uses.

    Known before anything is built, so the image label, the pods' TEMPORAL_WORKER_BUILD_ID and
    the versioned object names agree within one `pulumi up`.
    """
    if image.build_id is not None:
        return image.build_id
    if image.source == "prebuilt":
        assert image.ref is not None
        return build_ids.from_digest(image.ref)
    return build_ids.from_context(root / image.context, root / image.dockerfile, build_args(image))


class WorkerImage(pulumi.ComponentResource):
    """The worker image, referenced by digest."""

    ref: pulumi.Output[str]
    digest: pulumi.Output[str]
    build_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        image: ImageSettings,
        project_root: Path,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("temporal-workers:index:WorkerImage", name, None, opts)
        self.resolved_build_id = resolve_build_id(image, project_root)
        child = pulumi.ResourceOptions(parent=self)
        if image.source == "prebuilt":
            assert image.ref is not None
            self.ref = pulumi.Output.from_input(image.ref)
        elif image.builder == "docker-build":
            self.ref = self._docker_build(name, image, self.resolved_build_id, project_root, child)
        else:
            self.ref = self._docker(name, image, self.resolved_build_id, project_root, child)
        # An unknown ref (a preview that does not build) has no "@": its digest is unknown too.
        self.digest = self.ref.apply(lambda ref: ref.split("@", 1)[-1])
        self.build_id = pulumi.Output.from_input(self.resolved_build_id)
        self.register_outputs({"ref": self.ref, "digest": self.digest, "buildId": self.build_id})

    @staticmethod
    def _docker_build(
        name: str, image: ImageSettings, build_id: str, root: Path, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        registries = None
        if image.registry is not None and image.registry.password is not None:
            registries = [
                docker_build.RegistryArgs(
                    address=image.registry.address,
                    username=image.registry.username,
                    password=pulumi.Output.secret(image.registry.password.value),
                )
            ]
        built = docker_build.Image(
            name,
            context=docker_build.BuildContextArgs(location=str(root / image.context)),
            dockerfile=docker_build.DockerfileArgs(location=str(root / image.dockerfile)),
            build_args=build_args(image, build_id),
            tags=[f"{image.repository}:{build_id}"],
            push=image.push,
            load=not image.push,
            network=docker_build.NetworkMode(image.network),
            platforms=[docker_build.Platform(image.platform)] if image.platform else None,
            registries=registries,
            # A preview does not build: `pulumi up` would otherwise build twice (its preview, then
            # the update), and a preview of a new stack warns "Skipping preview build because some
            # inputs are unknown". Build errors surface on `up` (and in CI's own image build).
            build_on_preview=False,
            opts=opts,
        )
        return built.digest.apply(lambda digest: digest_ref(image.repository, digest))

    @staticmethod
    def _docker(
        name: str, image: ImageSettings, build_id: str, root: Path, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        registry = None
        if image.registry is not None:
            registry = docker.RegistryArgs(
                server=image.registry.address,
                username=image.registry.username,
                password=(
                    pulumi.Output.secret(image.registry.password.value)
                    if image.registry.password is not None
                    else None
                ),
            )
        built = docker.Image(
            name,
            image_name=f"{image.repository}:{build_id}",
            build=docker.DockerBuildArgs(
                context=str(root / image.context),
                dockerfile=str(root / image.dockerfile),
                args=build_args(image, build_id),
                network=image.network,
                platform=image.platform,
            ),
            registry=registry,
            skip_push=not image.push,
            opts=opts,
        )
        return built.repo_digest.apply(lambda digest: digest_ref(image.repository, digest))
