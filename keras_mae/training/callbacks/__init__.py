"""Every callback a training run uses, one idea a file: resumable backups (and the place in the
data they record), per-epoch checkpoints, stopping on NaN/Inf or Ctrl-C, memory trimming while
compiling, the reconstruction figure, the k-NN monitor and the training throughput."""

from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.callbacks.checkpoints import EpochCheckpoints, save_atomically
from keras_mae.training.callbacks.figure import ReconstructionFigure
from keras_mae.training.callbacks.knn import KNNMonitor
from keras_mae.training.callbacks.freed_memory import ReleaseFreedMemoryWhileCompiling
from keras_mae.training.callbacks.position import DataPosition
from keras_mae.training.callbacks.stopping import NonFiniteLossPolicy, StopOnInterrupt
from keras_mae.training.callbacks.throughput import TrainingThroughput

__all__ = [
    "AtomicBackupAndRestore", "DataPosition", "EpochCheckpoints", "KNNMonitor",
    "NonFiniteLossPolicy", "ReconstructionFigure",
    "ReleaseFreedMemoryWhileCompiling", "StopOnInterrupt", "TrainingThroughput",
    "save_atomically",
]
