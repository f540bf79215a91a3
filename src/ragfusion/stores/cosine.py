"""Cosine similarity on small matrices without waking a BLAS thread pool.

On a 2-core machine, OpenBLAS's thread pool left spinning after a product was measured to
slow the next ONNX Runtime query embedding by 1.5-2x. OpenBLAS runs a GEMM on the calling
thread when m * n * k is below 65536 * 4, so products are computed in blocks under that size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BLAS_SINGLE_THREAD_MACS = 65_536 * 4 - 1

Matrix = npt.NDArray[np.float32]


def unit_rows(matrix: npt.ArrayLike) -> Matrix:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.clip(norms, 1e-12, None), dtype=np.float32)


def blocked_cosines(queries: npt.ArrayLike, matrix: Matrix) -> Matrix:
    """Cosines of ``queries`` (any length) with every row of ``matrix`` (unit rows), as a
    queries x rows matrix computed on the calling thread."""
    unit = unit_rows(queries)
    block = max(16, BLAS_SINGLE_THREAD_MACS // max(1, unit.shape[0] * unit.shape[1]))
    parts = [unit @ matrix[i : i + block].T for i in range(0, len(matrix), block)]
    if not parts:
        return np.zeros((len(unit), 0), dtype=np.float32)
    return np.asarray(np.concatenate(parts, axis=1), dtype=np.float32)
