"""The batch on Ray: a local instance (``--ray auto``) or a cluster (``--ray ADDRESS``), with the
same ``submit``/``wait`` as :class:`mocap.batch_pool.ProcessExecutor`.

Each task asks for one CPU and is never retried (a take that crashes its worker would crash the
next one too); a worker that dies is that task's "worker died". The cluster's nodes need the
``mocap`` package installed, as on the machine that runs ``mocap batch``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import urlsplit

from mocap.errors import ConfigError

CONNECT_TIMEOUT_S = 3.0      # a reachable head answers a TCP connect in milliseconds
START_CLUSTER = ("start one with 'ray start --head' on its head node and give --ray HOST:6379 "
                 "(or --ray ray://HOST:10001 for Ray Client), or use --ray auto for a Ray "
                 "instance on this machine, or leave --ray out for a local process pool")
Outcome = tuple[bool, Any]


def import_ray() -> Any:
    """The ``ray`` module; ConfigError naming the extra to install where it is missing."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError("--ray needs Ray, which is not installed; install the 'distributed' "
                          "extra: pip install 'mocap[distributed]' (or leave --ray out for a "
                          "local process pool)") from e
    return ray


def check_reachable(address: str) -> None:
    """ConfigError, within CONNECT_TIMEOUT_S, where nothing listens at ``address``
    (``host:port`` or ``ray://host:port``)."""
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise ConfigError(f"--ray {address}: not an address; give HOST:PORT (e.g. "
                          "10.0.0.5:6379) or ray://HOST:PORT, or auto")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ConfigError(f"cannot reach a Ray cluster at {address} ({e.strerror or e}); "
                          f"{START_CLUSTER}") from None


class RayExecutor:
    """Tasks on Ray; ``with`` disconnects from Ray (and stops the local instance it started),
    unless Ray was already initialised in this process (then it is left as it was)."""

    def __init__(self, address: str, workers: int | None) -> None:
        self.ray = import_ray()
        self._started = False
        if address != "auto":
            check_reachable(address)            # also where Ray runs here already: fail fast
        if not self.ray.is_initialized():
            self._connect(address, workers)
            self._started = True
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, min(workers, cpus) if workers else cpus)
        self._refs: dict[Any, int] = {}
        self._remotes: dict[Callable[..., Any], Any] = {}
        self._next = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for ref in self._refs:
            self.ray.cancel(ref, force=True)
        self._refs.clear()
        if self._started:
            self.ray.shutdown()

    def _connect(self, address: str, workers: int | None) -> None:
        """Join the cluster at ``address``; for "auto" the one running on this machine, else a
        new local instance of ``workers`` CPUs."""
        if address != "auto":
            self.ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            return
        try:
            self.ray.init(address="auto", log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError:                 # no instance runs here: start one
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")   # no token in the home folder
            self.ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                          logging_level=logging.WARNING)

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Start ``fn(*args)`` as a Ray task of one CPU."""
        if fn not in self._remotes:
            self._remotes[fn] = self.ray.remote(num_cpus=1, max_retries=0)(fn)
        self._next += 1
        self._refs[self._remotes[fn].remote(*args)] = self._next
        return self._next

    def wait(self, timeout: float) -> dict[int, Outcome]:
        """The tasks that ended within ``timeout`` seconds, by the handle ``submit`` gave."""
        if not self._refs:
            return {}
        refs = list(self._refs)
        first, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        ready = self.ray.wait(refs, num_returns=len(refs), timeout=0)[0] if first else []
        return {self._refs.pop(ref): self._outcome(ref) for ref in ready}

    def _outcome(self, ref: Any) -> Outcome:
        exceptions = self.ray.exceptions
        try:
            return True, self.ray.get(ref)
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError,
                exceptions.LocalRayletDiedError) as e:
            return False, f"worker died ({type(e).__name__}) before finishing"
        except exceptions.RayError as e:
            return False, f"Ray could not run the task: {type(e).__name__}: {e}"
