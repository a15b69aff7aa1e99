"""The C/C++/CUDA frontend."""

from porter.native.inventory import inventory

__all__ = ["inventory"]
