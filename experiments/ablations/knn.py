"""k-NN of one ablation variant: the CIFAR-10 proof's k-NN stage (bank: the 50,000 training
images, queries: the 10,000 test images)."""

from experiments.cifar10.knn import get_config  # noqa: F401
