"""A complete small trio controller built on ``vk_trio.queue`` (see docs/queue.md).

It keeps an "actual" state in line with a "desired" state that changes through events:

* ``on_event`` plays the informer's event handler: synchronous, never blocks, records what is
  wanted and enqueues the key.  Bursts of events for one key collapse into one reconcile.
* ``reconcile`` is the worker's handler: it reads the *latest* desired state for the key and
  acts on it.  One key fails twice with a transient error and is retried with backoff;
  ``on_failure`` logs and counts failures the controller's own way.
* ``resync`` is plain synchronous code running in a thread (think of a blocking client
  library): it enqueues every key again through a ``ThreadAdder``.
* ``run_workers`` runs four workers; ``queue.join()`` waits until everything is reconciled
  (retries included), then shutting the queue down makes ``run_workers`` return.

Run it with ``python docs/examples/queue_controller.py``; tests/queue/test_docs_example.py
runs it too (on trio's MockClock as well), and ``make queue-dist`` runs it in a virtualenv with
only the vk-trio-queue distribution installed.
"""

from __future__ import annotations

import logging

import trio

from vk_trio.queue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    ThreadAdder,
    run_workers,
)

log = logging.getLogger("controller")


class Controller:
    def __init__(self) -> None:
        # client-go's controller defaults would be RateLimitingQueue() with no argument
        # (5 ms .. 1000 s per item, 10 qps / burst 100 overall); smaller numbers keep the demo fast.
        limiter = MaxOfRateLimiter(
            ItemExponentialFailureRateLimiter(0.010, 1.0),
            BucketRateLimiter(qps=100, burst=50),
        )
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(limiter, name="replicas")
        self.desired: dict[str, int] = {}
        self.actual: dict[str, int] = {}
        self.reconciles: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.flaky_failures_left = {"default/web": 2}

    def on_event(self, key: str, replicas: int) -> None:
        """Informer handler: remember the desired state and enqueue the key (never blocks)."""
        self.desired[key] = replicas
        self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        """Make the actual state match the desired state for one key."""
        self.reconciles[key] = self.reconciles.get(key, 0) + 1
        await trio.sleep(0.005)  # stands in for an API call
        if self.flaky_failures_left.get(key, 0) > 0:
            self.flaky_failures_left[key] -= 1
            raise ConnectionError(f"transient failure while scaling {key}")
        self.actual[key] = self.desired[key]

    def on_failure(self, key: str, error: Exception, attempt: int) -> None:
        """run_workers hook: every failed reconcile (replaces the library's own log line)."""
        self.failures[key] = self.failures.get(key, 0) + 1
        log.warning("reconciling %s failed (attempt %d), will retry: %s", key, attempt, error)

    async def run(
        self, *, workers: int = 4, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await run_workers(
            self.queue,
            self.reconcile,
            workers=workers,
            max_retries=5,
            on_failure=self.on_failure,
            task_status=task_status,
        )


def resync(adder: ThreadAdder[str], keys: list[str]) -> None:
    """Synchronous code in another thread: enqueue every key again (a periodic full resync)."""
    for key in keys:
        adder.add(key)  # blocks this thread until the trio thread has added it


async def main() -> Controller:
    controller = Controller()
    async with trio.open_nursery() as nursery:
        await nursery.start(controller.run)  # returns once the workers are running
        # A burst of events: three keys, each changed several times in a row.
        for replicas in range(1, 6):
            for key in ["default/web", "default/api", "kube-system/dns"]:
                controller.on_event(key, replicas)
            await trio.sleep(0.001)
        adder = ThreadAdder(controller.queue)  # created in the trio thread, used from another
        await trio.to_thread.run_sync(resync, adder, sorted(controller.desired))
        # Wait until nothing is queued, being processed or waiting for a retry.
        await controller.queue.join()
        # Stop: no new work is accepted; run_workers returns once the queue is drained.
        controller.queue.shut_down()
    return controller


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    done = trio.run(main)
    for key in sorted(done.actual):
        print(f"{key}: {done.actual[key]} replicas after {done.reconciles[key]} reconciles")
