"""Numeric-parity harness: cases, golden recording on a reference backend, judging a target backend.

Importing this package never imports torch: porting works without it; only recording and
comparing need the ``parity`` extra.
"""

from porter.parity.cases import parity_case

__all__ = ["parity_case"]
