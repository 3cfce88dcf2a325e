"""Work queues with client-go semantics on trio (see docs/queue.md)."""
