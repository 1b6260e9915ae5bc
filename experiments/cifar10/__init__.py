"""The CIFAR-10 proof: MAE pretraining, k-NN, linear probe and fine-tuning against baselines."""
