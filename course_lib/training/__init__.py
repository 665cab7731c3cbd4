"""The training layer: the training loop, checkpoints, distributed training."""
