"""workerkit: run one Temporal task queue safely on Kubernetes (drain, health, metrics)."""

from workerkit.app import WorkerApp

__all__ = ["WorkerApp"]
