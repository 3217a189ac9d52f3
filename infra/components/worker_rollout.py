"""WorkerRollout: a dynamic resource that promotes a queue's target build inside `pulumi up`.

It is registered after the target build's Deployment (which pulumi-kubernetes awaits until
Available), so its create/update runs once the new pods exist: it waits for their pollers, runs the
gate, routes by strategy, waits for propagation and deletes the versions the plan retires (before
the engine removes their Deployments, which happens after every registration succeeded).
`diff` reports a change only when the program observed that routing or retirement has work to do,
so a settled stack previews as unchanged.
"""

from __future__ import annotations

import sys
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

ROUTING_INPUTS = (
    "deployment",
    "queue",
    "target",
    "strategy",
    "rampSteps",
    "minPollers",
    "pollersTimeout",
    "routingTimeout",
    "identity",
    "gateWorkflow",
    "gateTimeout",
    "retire",
)


def _pickled_by_value(cls: type) -> type:
    """Make dill copy `cls` and its methods into state instead of referring to this module.

    The engine runs dynamic providers in a process of their own that unpickles the provider
    before any of our code runs, and the project root is not on its `sys.path`: a class or method
    pickled by reference (`infra.components...`) fails there with "No module named 'infra'".
    dill copies what belongs to `__main__`.
    """
    cls.__module__ = "__main__"
    for value in vars(cls).values():
        if callable(value) and hasattr(value, "__module__"):
            value.__module__ = "__main__"
    return cls


@_pickled_by_value
class _RolloutProvider(dynamic.ResourceProvider):
    """Runs `infra.versions.rollout.promote`; imported lazily, from the project root it was given.

    The engine starts dynamic providers in their own process from a pickled copy of this object,
    so the rollout code is imported there (after adding the root to `sys.path`), not captured here.
    """

    def __init__(self, project_root: str) -> None:
        self.project_root = project_root

    def _run(self, props: dict[str, Any]) -> dict[str, Any]:
        if self.project_root not in sys.path:
            sys.path.insert(0, self.project_root)
        from infra.versions import temporal_api as api
        from infra.versions.rollout import RolloutError, RolloutRequest, promote

        conn = api.credentials_from_environment(
            api.ControlConnection(
                address=props["address"],
                namespace=props["namespace"],
                api_key=props.get("apiKey") or None,
                tls=bool(props.get("tls")),
                server_name=props.get("serverName") or None,
                identity=props["identity"],
            )
        )
        request = RolloutRequest(
            deployment=props["deployment"],
            queue=props["queue"],
            target=props["target"],
            strategy=props["strategy"],
            ramp_steps=tuple((int(p), int(s)) for p, s in props.get("rampSteps") or []),
            min_pollers=int(props["minPollers"]),
            pollers_timeout=float(props["pollersTimeout"]),
            routing_timeout=float(props["routingTimeout"]),
            identity=props["identity"],
            gate_workflow=props.get("gateWorkflow") or None,
            gate_timeout=float(props.get("gateTimeout") or 600),
            retire=tuple(props.get("retire") or ()),
        )

        async def go() -> dict[str, Any]:
            client = await api.connect(conn)
            result = await promote(client, request)
            return {
                "current": result.current or "",
                "ramping": result.ramping or "",
                "rampPercent": result.ramp_percent,
                "events": result.events,
                "retired": result.retired,
            }

        try:
            return api.run_sync(go())
        except (RolloutError, ConnectionError) as err:
            raise Exception(str(err)) from None  # one line in the engine's diagnostics

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """First `up` of a versioned queue: promote the target."""
        outs = self._run(props)
        return dynamic.CreateResult(
            id_=f"{props['namespace']}/{props['deployment']}", outs={**props, **outs}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """Changed only when the program saw routing or retirement work to do this `up`.

        Temporal, not the last inputs, says whether routing is done: a new target that is already
        current (promoted by hand) needs nothing, an old target someone demoted needs an update.
        """
        pending = bool(news.get("pending"))
        return dynamic.DiffResult(changes=pending, replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Later `up`s: promote a new target, resume a ramp, or retire drained versions."""
        return dynamic.UpdateResult(outs={**news, **self._run(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Routing stays as it is: removing the resource must not take work away from workers."""


class WorkerRollout(dynamic.Resource):
    """The routing of one queue's Worker Deployment, changed only by this resource."""

    current: pulumi.Output[str]
    ramping: pulumi.Output[str]
    events: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        props: dict[str, Any],
        project_root: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`props`: ROUTING_INPUTS plus address, namespace, tls, serverName, apiKey, pending."""
        outputs = {
            "current": None,
            "ramping": None,
            "rampPercent": None,
            "events": None,
            "retired": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["apiKey"])
        super().__init__(
            _RolloutProvider(project_root),
            name,
            {**props, **outputs},
            pulumi.ResourceOptions.merge(opts, secret),
        )
