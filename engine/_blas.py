"""Which BLAS NumPy runs on, for benchmark reports."""
from __future__ import annotations


def blas_info() -> str:
    """BLAS library, kernel architecture and thread count NumPy uses."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see)"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return (f"{pool.get('internal_api')} {pool.get('version')}, {pool.get('architecture')} kernels, "
                    f"{pool.get('num_threads')} threads")
    return "unknown"
