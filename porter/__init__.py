"""porter: port PyTorch/CUDA repositories to Ascend NPUs."""

__version__ = "0.1.0"
