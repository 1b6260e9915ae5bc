"""k-NN stages of the CIFAR-10 proof: all 50,000 training images are the memory bank, the 10,000
test images are classified, with the pretrained encoder (`init_checkpoint`) or the same
architecture at random initialisation (no `init_checkpoint`, same seed)."""

from keras_mae.training.config import knn_config, use_cifar10


def get_config():
    config = use_cifar10(knn_config())
    config.model.preset = "mae_vit_micro_patch4_32"
    return config
