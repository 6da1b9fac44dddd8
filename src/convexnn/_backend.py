"""Array backend helpers: one solver code path for NumPy arrays and PyTorch tensors.

The solvers only use operations of the Python array API standard, reached through
``array_api_compat`` (the shim scikit-learn uses), so the same code runs on NumPy arrays and on
PyTorch tensors on any device. This module converts user inputs to the working backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _array_namespace
from array_api_compat import is_torch_array

__all__ = ["array_namespace", "to_backend", "to_numpy", "is_torch_array", "resolve_dtype",
           "blas_threads"]

_CONTROLLER: Any = None
_ACTIVE: int | None = None  # the limit of the innermost blas_threads block, None outside
_NUMPY_NAMESPACE: Any = None


def array_namespace(*xs: Any) -> Any:
    """``array_api_compat.array_namespace``, with a fast path for plain NumPy arrays.

    The general lookup costs ~4 us a call (it inspects every argument against each supported
    library; 1 us here), and the losses and certificates call it a few dozen times in one
    small solve (~0.1 ms of a 25 ms gated fit). For arguments that are all exactly
    ``np.ndarray`` the answer is always the same namespace, cached on first use."""
    global _NUMPY_NAMESPACE
    if xs and all(type(x) is np.ndarray for x in xs):
        if _NUMPY_NAMESPACE is None:
            _NUMPY_NAMESPACE = _array_namespace(np.empty(0))
        return _NUMPY_NAMESPACE
    return _array_namespace(*xs)


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit the BLAS thread pools to ``n`` threads inside the block (``None``: leave them).

    A plain ``threadpoolctl.threadpool_limits`` scans the loaded shared libraries on every
    call (about 4.5 ms here: more than a whole small gated solve), so one
    ``ThreadpoolController`` is made on first use and reused; its ``limit`` costs ~3 us.
    Libraries loaded after that first use (a BLAS that arrives with PyTorch) are picked up by
    making a new controller when the set of loaded libraries may have changed: PyTorch is
    imported lazily here, so the check is whether ``torch`` was imported since.
    """
    global _CONTROLLER, _ACTIVE
    # A block nested in one with the same limit changes nothing: no call (each limit and its
    # restore cost ~50 us, and a small gated fit enters three nested blocks of one thread).
    if n is None or n == _ACTIVE:
        yield
        return
    import sys

    from threadpoolctl import ThreadpoolController

    has_torch = "torch" in sys.modules
    if _CONTROLLER is None or _CONTROLLER[1] != has_torch:
        _CONTROLLER = (ThreadpoolController(), has_torch)
    outer = _ACTIVE
    with _CONTROLLER[0].limit(limits=n):
        _ACTIVE = n
        try:
            yield
        finally:
            _ACTIVE = outer


def resolve_dtype(dtype: str | None) -> str:
    if dtype is None:
        return "float64"
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype


def to_backend(a: Any, *, device: str = "cpu", dtype: str = "float64", torch: bool = False) -> Any:
    """Convert ``a`` to a NumPy array, or (``torch=True`` or ``device != 'cpu'``) a tensor."""
    if torch or device != "cpu":
        try:
            import torch as _torch
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "device/backend 'torch' needs PyTorch: pip install 'convexnn[torch]'"
            ) from exc
        if device.startswith("cuda") and not _torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available here")
        tdtype = getattr(_torch, dtype)
        if is_torch_array(a):
            return a.to(device=device, dtype=tdtype)
        return _torch.as_tensor(np.asarray(a), dtype=tdtype, device=device)
    if is_torch_array(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy (float64 if floating) copy of a backend array."""
    if is_torch_array(a):
        a = a.detach().cpu()
        if a.dtype.is_floating_point:
            a = a.double()
        return a.numpy()
    return np.asarray(a)
