"""Which route read_las took: the fast one (rows parsed from the bytes at their offset) or the
tolerant one (the file read whole, through lasio or the row splitter)."""

from __future__ import annotations

from unittest import mock

import petro.io.las as las_module
from petro.io.raw import RawTable


def read_route(path, **kwargs) -> tuple[RawTable, str]:
    """``read_las(path, **kwargs)`` and ``"fast"`` or ``"tolerant"`` (the tolerant route was
    entered: the file was read whole)."""
    real = las_module._read_text
    whole = []

    def tolerant(*args):
        whole.append(True)
        return real(*args)

    with mock.patch.object(las_module, "_read_text", tolerant):
        table = las_module.read_las(path, **kwargs)
    return table, "tolerant" if whole else "fast"
