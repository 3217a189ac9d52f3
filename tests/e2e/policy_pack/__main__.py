"""e2e fixture policy pack: rejects Deployments whose containers use a ``:latest`` image."""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

MESSAGE = "uses a ':latest' image; pin a version"


def _no_latest_image(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != "kubernetes:apps/v1:Deployment":
        return
    containers = args.props.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    for container in containers or []:
        image = str(container.get("image", ""))
        if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
            report_violation(f"container '{container.get('name')}' {MESSAGE} (got {image})", None)


PolicyPack(
    name="twk-e2e-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="twk-e2e-no-latest-image",
            description="Deployments must pin their container images.",
            validate=_no_latest_image,
        )
    ],
)
