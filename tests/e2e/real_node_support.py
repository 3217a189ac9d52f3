"""What the real-node e2e tests watch: the pods' lives and logs, and a stream of orders.

``PodWatch`` follows every pod of a namespace through the API server's watch (the last container
state a pod had before it was deleted: exit code, reason) and the log of every worker container
(``kubectl logs -f``), so a test can tell how each terminated pod ended. ``OrderStream`` starts
orders at a steady pace from a background thread until stopped, then checks every history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from orders_app.blobs import FileBlobStore
from orders_app.client import SAMPLE_ITEMS, store_items
from orders_app.models import ORDERS_QUEUE, OrderInput, OrderResult
from orders_app.workflows import OrderWorkflow
from tools.local_cluster import LocalCluster


@dataclass
class PodLife:
    """One pod as the watch saw it."""

    name: str
    node: str = ""
    ready_seen: bool = False
    deleted: bool = False
    exit_code: int | None = None
    reason: str = ""
    log: Path | None = None

    def log_messages(self) -> list[str]:
        """The ``msg`` of every JSON log line of its worker container."""
        if self.log is None or not self.log.is_file():
            return []
        messages = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and "msg" in record:
                    messages.append(str(record["msg"]))
        return messages


class PodWatch:
    """Every pod of ``namespace`` from now on: its end, and its worker container's log."""

    def __init__(self, cluster: LocalCluster, kubectl: Path, namespace: str, logs: Path) -> None:
        """Start watching (a daemon thread; :meth:`stop` ends the log followers)."""
        self.cluster, self.kubectl, self.namespace, self.logs = cluster, kubectl, namespace, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.pods: dict[str, PodLife] = {}
        self._followers: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        while not self._stopped.is_set():
            with contextlib.suppress(OSError, ValueError):
                for event in self.cluster.watch(path, timeout=30):
                    self._record(event["type"], event["object"])
                    if self._stopped.is_set():
                        return

    def _record(self, kind: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        with self._lock:
            life = self.pods.setdefault(name, PodLife(name))
        life.node = pod.get("spec", {}).get("nodeName") or life.node
        for status in pod.get("status", {}).get("containerStatuses") or []:
            if status.get("ready"):
                life.ready_seen = True
            terminated = status.get("state", {}).get("terminated")
            if terminated:
                life.exit_code, life.reason = terminated.get("exitCode"), terminated.get("reason")
            if status.get("state", {}).get("running") and life.log is None:
                life.log = self.logs / f"{name}.log"
                self._follow(name, life.log)
        if kind == "DELETED":
            life.deleted = True

    def _follow(self, pod: str, out: Path) -> None:
        cmd = [str(self.kubectl), "-n", self.namespace, "logs", "-f", pod, "-c", "worker"]
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)}
        with out.open("ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.DEVNULL, env=env)
        self._followers[pod] = proc

    def wait_deleted_settled(self, timeout: float = 60.0) -> None:
        """Wait until every deleted pod's log follower has ended (its stream closed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            followers = [self._followers.get(p.name) for p in self.terminated()]
            if all(f is None or f.poll() is not None for f in followers):
                return
            time.sleep(0.2)

    def terminated(self) -> list[PodLife]:
        """The pods that were deleted while watched."""
        with self._lock:
            return [p for p in self.pods.values() if p.deleted]

    def stop(self) -> None:
        """End the log followers (the watch thread ends with its next event or timeout)."""
        self._stopped.set()
        for proc in self._followers.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self._followers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


@dataclass
class OrderStream:
    """Orders started every ``interval`` seconds from a background thread until :meth:`stop`."""

    address: str
    namespace: str = "default"
    interval: float = 0.25
    ship_seconds: float = 2.0
    started: list[str] = field(default_factory=list)
    prefix: str = field(default_factory=lambda: f"load-{uuid.uuid4().hex[:6]}")

    def __post_init__(self) -> None:
        """Start the thread."""
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._produce())
        except BaseException as exc:  # reported by stop()
            self._error = exc

    async def _produce(self) -> None:
        client = await Client.connect(self.address, namespace=self.namespace)
        key = store_items(SAMPLE_ITEMS, FileBlobStore(Path("/nonexistent")))
        i = 0
        while not self._stop.is_set():
            order_id = f"{self.prefix}-{i}"
            await client.start_workflow(
                OrderWorkflow.run,
                OrderInput(order_id, "customer-1", key, self.ship_seconds),
                id=f"order-{order_id}",
                task_queue=ORDERS_QUEUE,
            )
            self.started.append(order_id)
            i += 1
            await asyncio.sleep(self.interval)

    def stop(self) -> list[str]:
        """Stop starting orders; returns the ids started (fails if the producer failed)."""
        self._stop.set()
        self._thread.join(timeout=30)
        if self._error is not None:
            raise AssertionError(f"the order stream failed: {self._error!r}")
        return list(self.started)


@dataclass
class StreamReport:
    """What the histories of a stream's orders say."""

    started: int
    completed: int
    failed: list[str]
    activities: int
    retried: list[str]
    unpaired: list[str]
    identities: Counter[str]


def check_orders(address: str, order_ids: list[str], timeout: float = 180.0) -> StreamReport:
    """Wait for every order's result and read the histories of it and its two children."""

    async def run() -> StreamReport:
        client = await Client.connect(address)
        failed: list[str] = []
        completed = 0
        for order_id in order_ids:
            handle: WorkflowHandle[OrderWorkflow, OrderResult] = client.get_workflow_handle(
                f"order-{order_id}", result_type=OrderResult
            )
            try:
                result = await asyncio.wait_for(handle.result(), timeout)
                completed += result.status == "completed"
            except Exception as exc:
                failed.append(f"{order_id}: {exc!r}")
        activities, retried, unpaired = 0, [], []
        identities: Counter[str] = Counter()
        for order_id in order_ids:
            for wf in (f"order-{order_id}", f"{order_id}-payment", f"{order_id}-shipment"):
                history = await client.get_workflow_handle(wf).fetch_history()
                kinds: Counter[str] = Counter()
                for e in history.events:
                    name = EventType.Name(e.event_type)
                    if "ACTIVITY_TASK" not in name:
                        continue
                    kinds[name] += 1
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                        attrs = e.activity_task_started_event_attributes
                        identities[attrs.identity.split("@", 1)[-1].rsplit("-", 2)[0]] += 1
                        if attrs.attempt != 1:
                            retried.append(f"{wf}: attempt {attrs.attempt}")
                scheduled = kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"]
                activities += scheduled
                done = kinds["EVENT_TYPE_ACTIVITY_TASK_COMPLETED"]
                if not (scheduled == done == kinds["EVENT_TYPE_ACTIVITY_TASK_STARTED"]):
                    unpaired.append(f"{wf}: {dict(kinds)}")
        return StreamReport(
            len(order_ids), completed, failed, activities, retried, unpaired, identities
        )

    return asyncio.run(run())
