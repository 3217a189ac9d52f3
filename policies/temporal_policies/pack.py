"""The policies of the pack: each wires one pure rule to the policy SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import advisory, config, coverage, pollers, shutdown
from .adapters import WORKLOAD_STACK_SHAPE, to_resource
from .findings import Finding
from .resources import split_type
from .stack import Stack, is_relevant_type
from .values import Shape
from .workloads import WORKLOAD_KINDS, Workload, worker_workload

WorkloadRule = Callable[[Workload, Mapping[str, Any]], list[str]]
StackRule = Callable[[Stack, Mapping[str, Any]], list[Finding]]


def _schema(name: str) -> PolicyConfigSchema | None:
    properties = config.SCHEMAS.get(name)
    return PolicyConfigSchema(properties=properties) if properties else None


def workload_policy(
    name: str,
    description: str,
    rule: WorkloadRule,
    level: EnforcementLevel,
    severity: Severity = Severity.MEDIUM,
) -> ResourceValidationPolicy:
    """A resource policy that runs `rule` on every worker Deployment/StatefulSet."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if split_type(args.resource_type)[1] not in WORKLOAD_KINDS:
            return
        resource = to_resource(args.resource_type, args.urn, args.name, args.props, args.provider)
        workload = worker_workload(resource)
        if workload is None or not workload.certain:
            return
        for message in rule(workload, args.get_config()):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=_schema(name),
        severity=severity,
    )


def _stack_shape(resource: PolicyResource) -> Shape:
    """The part of a resource stack rules read: a workload's identity and pods, else all."""
    return WORKLOAD_STACK_SHAPE if split_type(resource.resource_type)[1] in WORKLOAD_KINDS else None


def stack_policy(
    name: str,
    description: str,
    rule: StackRule,
    level: EnforcementLevel,
    severity: Severity = Severity.MEDIUM,
) -> StackValidationPolicy:
    """A stack policy that runs `rule` on the stack's workloads, autoscalers and budgets."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            to_resource(r.resource_type, r.urn, r.name, r.props, r.provider, _stack_shape(r))
            for r in args.resources
            if is_relevant_type(r.resource_type)
        ]
        for finding in rule(Stack.of(resources), args.get_config()):
            report_violation(finding.message, finding.urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=_schema(name),
        severity=severity,
    )


def policies() -> list[Policy]:
    """Every policy of the pack, mandatory ones first."""
    mandatory, advisory_level = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
    return [
        stack_policy(
            config.TWO_POLLERS,
            "Every Temporal task queue needs at least two guaranteed pollers.",
            lambda s, c: pollers.check_pollers(s, config.poller_settings(c).min_pollers),
            mandatory,
            Severity.HIGH,
        ),
        workload_policy(
            config.GRACEFUL_SHUTDOWN,
            "Temporal workers need a preStop drain and a grace period that covers it.",
            lambda w, c: shutdown.check_graceful_shutdown(w, config.shutdown_settings(c)),
            mandatory,
            Severity.HIGH,
        ),
        workload_policy(
            config.IMAGE_DIGEST,
            "Temporal worker images are pinned by digest.",
            lambda w, c: advisory.check_image_pinned(w),
            advisory_level,
        ),
        workload_policy(
            config.RESOURCES,
            "Temporal workers request CPU and memory and limit memory.",
            lambda w, c: advisory.check_resources(w),
            advisory_level,
        ),
        workload_policy(
            config.PROBES,
            "Temporal workers have readiness and liveness probes.",
            lambda w, c: advisory.check_probes(w),
            advisory_level,
        ),
        workload_policy(
            config.SECURITY_CONTEXT,
            "Temporal workers run as non-root, read-only, without privilege escalation.",
            lambda w, c: advisory.check_security_context(w),
            advisory_level,
        ),
        workload_policy(
            config.SPREAD,
            "Temporal worker pods are spread across nodes.",
            lambda w, c: advisory.check_spread(w),
            advisory_level,
            Severity.LOW,
        ),
        workload_policy(
            config.CREDENTIALS,
            "Temporal credentials come only from Kubernetes Secrets.",
            lambda w, c: advisory.check_credentials(w),
            advisory_level,
            Severity.HIGH,
        ),
        stack_policy(
            config.PDB_PER_QUEUE,
            "Every Temporal worker workload is covered by a PodDisruptionBudget.",
            lambda s, c: coverage.check_pdb_per_queue(s),
            advisory_level,
        ),
        stack_policy(
            config.SCALE_DOWN,
            "Autoscalers of Temporal workers scale down slowly.",
            lambda s, c: coverage.check_scale_down_stabilization(
                s, config.min_stabilization_seconds(c)
            ),
            advisory_level,
        ),
    ]
