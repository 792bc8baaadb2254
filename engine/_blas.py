"""Which BLAS NumPy runs on, for benchmark reports."""
from __future__ import annotations


def blas_info() -> str:
    """BLAS library, kernel architecture and thread count NumPy uses."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    # NumPy's own library first (SciPy may have loaded another one beside it).
    pools.sort(key=lambda p: "numpy" not in str(p.get("filepath", "")))
    for pool in pools:
        return (f"{pool.get('internal_api')} {pool.get('version')}, {pool.get('architecture')} kernels, "
                f"{pool.get('num_threads')} threads")
    return "unknown"
