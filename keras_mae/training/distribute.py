"""Choosing where a run executes: one device, all GPUs of a host, several hosts, or a TPU.

The strategies are TensorFlow's own; this module picks one from the config and checks that the
global batch splits evenly (what XLA compiles under each is `keras_mae.xla`'s).
"""

import os

import tensorflow as tf

from keras_mae.errors import InputError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices):
    """Expose the CPU as `num_devices` logical devices, to run MirroredStrategy without GPUs.

    Must run before TensorFlow initialises its devices (before the first op)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices
    )


def tpu_resolver_kwargs(config):
    """TPUClusterResolver arguments from the config: the TPU's name or grpc address
    ("local" on a TPU VM), its zone and project; empty fields are left to TF's defaults."""
    tpu = config.tpu or os.environ.get("TPU_NAME", "")
    kwargs = {"tpu": tpu, "zone": config.tpu_zone or None, "project": config.tpu_project or None}
    return {key: value for key, value in kwargs.items() if value is not None}


def make_tpu_strategy(config):
    """Connect to the TPU and initialise it, as the TF TPU guide prescribes."""
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(**tpu_resolver_kwargs(config))
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def resolve_strategy_name(config):
    """What "auto" means here: a TPU if one is named, else every GPU, else one device."""
    if config.strategy not in STRATEGIES:
        raise InputError(
            f"Unknown strategy {config.strategy!r}; use one of {', '.join(STRATEGIES)}."
        )
    if config.strategy != "auto":
        return config.strategy
    if config.tpu or os.environ.get("TPU_NAME"):
        return "tpu"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "one_device"


def make_strategy(config):
    """The `tf.distribute.Strategy` the config asks for (config.strategy, tpu, tpu_zone, ...)."""
    name = resolve_strategy_name(config)
    if name == "tpu":
        return make_tpu_strategy(config)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)


def check_global_batch(global_batch_size, strategy):
    """The global batch must split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise InputError(
            f"Global batch size {global_batch_size} is not divisible by the {replicas} replicas. "
            f"Use a multiple of {replicas}, e.g. --config.batch_size="
            f"{max(replicas, global_batch_size // replicas * replicas)}."
        )


def is_chief(strategy):
    """True on the worker that owns checkpoints and logs (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


def same_on_every_worker(strategy, value):
    """Whether the number `value` is the same on every worker of a multi-worker run (always
    true otherwise): n * sum(v^2) == sum(v)^2 over the n replicas, a sum every worker receives
    alike, so that all reach the same answer."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    value = tf.constant([float(value), float(value) ** 2], tf.float64)

    @tf.function
    def sums():
        return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, value))

    total, total_of_squares = strategy.experimental_local_results(sums())[0].numpy()
    return strategy.num_replicas_in_sync * total_of_squares == total**2
