"""Validate a produced object: Kubernetes OpenAPI for built-in kinds, our schemas for CRDs."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from tests.infra.crd_schemas import SCHEMAS, validate_crd_object
from tests.infra.harness import K8S_VERSION


def validate_object(obj: dict[str, Any]) -> None:
    """Raise if `obj` is not a valid object (strict: unknown fields are errors)."""
    if obj["kind"] in SCHEMAS:
        validate_crd_object(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
