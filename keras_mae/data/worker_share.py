"""Each worker of a multi-worker run reads and augments only the images its replicas train on.

Keras hands `fit`'s dataset to `strategy.experimental_distribute_dataset`, whose DATA
auto-sharding runs the whole pipeline on every worker and then keeps each worker's part of
every batch: with W workers each would decode and augment W times its share. The pipelines
keep that split (so every replica gets exactly the images it got before) but put a zero
placeholder where another worker's image would be, which costs next to nothing.
"""

import functools
import typing

import tensorflow as tf


class WorkerShare(typing.NamedTuple):
    """Where one worker's images sit in every global batch. tf.distribute cuts a global batch
    into `workers x replicas_per_worker` equal pieces and gives piece `r x workers + w` to the
    r-th replica of worker w (pinned by `tests/data/test_worker_share.py` against TF's split)."""

    worker: int
    workers: int
    replicas: int  # in sync, over all workers

    def keeps(self, position, batch_size):
        """Whether the image at `position` of the run (int64 tensor) is this worker's, for
        global batches of `batch_size` (a multiple of `replicas`)."""
        piece = position % batch_size // (batch_size // self.replicas)
        return tf.equal(piece % self.workers, self.worker)


def worker_share(strategy):
    """This process's `WorkerShare` under a `MultiWorkerMirroredStrategy` of several workers;
    None otherwise (one worker reads everything)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    tasks = resolver.cluster_spec().as_dict()
    chiefs, workers = len(tasks.get("chief", [])), len(tasks.get("worker", []))
    if chiefs + workers < 2:
        return None
    # tf.distribute numbers the chief first, then the workers.
    worker = resolver.task_id + (chiefs if resolver.task_type == "worker" else 0)
    return WorkerShare(worker, chiefs + workers, strategy.num_replicas_in_sync)


def placeholder_like(spec):
    """Zeros of a dataset element's structure (unknown dimensions 1): what a worker puts where
    another worker's example would be."""
    return tf.nest.map_structure(
        lambda s: tf.zeros([d if d is not None else 1 for d in s.shape], s.dtype), spec)


def kept_by(share, batch_size):
    """`position -> bool` for the images `share` keeps of global batches of `batch_size`; None
    (every image) without a share."""
    return share and functools.partial(share.keeps, batch_size=batch_size)


def where_kept(keep, position, compute, placeholder):
    """`compute()` where `keep(position)` holds (or there is no `keep`), else `placeholder()`."""
    if keep is None:
        return compute()
    return tf.cond(keep(position), compute, placeholder)
