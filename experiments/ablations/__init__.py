"""The paper's ablations (table 1, figure 5) on CIFAR-10: why masking differs for images and words."""
