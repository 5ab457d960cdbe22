"""The process-level settings a peer benchmark ran with, printed as one line ("peer env: ...") so a
reader can check both sides of a comparison ran alike (bench/env.hpp prints ours). Import after
torch / numpy so their BLAS is loaded: threadpoolctl lists the BLAS libraries in the process and
the kernel (OpenBLAS core / MKL architecture) each runs; without threadpoolctl, torch's or numpy's
own build summary stands in."""
import os


def blas_summary():
    try:
        from threadpoolctl import threadpool_info
        libs = [f"{i.get('internal_api')} {i.get('version')} core={i.get('architecture')} threads={i.get('num_threads')}"
                f" ({os.path.basename(i.get('filepath', ''))})" for i in threadpool_info()]
        return "; ".join(libs) or "threadpoolctl found no BLAS"
    except ImportError:
        pass
    try:
        import torch
        cfg = torch.__config__.show()
        return " ".join(l.strip() for l in cfg.splitlines() if "BLAS" in l or "LAPACK" in l)[:300]
    except ImportError:
        import numpy
        return "numpy %s (threadpoolctl not installed; see numpy.show_config())" % numpy.__version__


def print_env():
    env = " ".join(f"{k}={os.environ.get(k, 'unset')}"
                   for k in ("GLIBC_TUNABLES", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    print(f'peer env: blas="{blas_summary()}" {env}', flush=True)
