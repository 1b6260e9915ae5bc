"""Pretrain a Masked Autoencoder, or evaluate one by fine-tuning or linear probing, from a clone:

    python train.py --config configs/quickstart.py --workdir runs/quickstart

The command line lives in `keras_mae/train.py` (installed as `keras-mae-train`); see there.
"""

from keras_mae.train import run

if __name__ == "__main__":
    run()
