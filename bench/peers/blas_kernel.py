"""The BLAS kernels this Python process runs, e.g. "openblas 0.3.30 SkylakeX x2 (libscipy_openblas64_)": threadpoolctl
when it is installed, else OpenBLAS's own openblas_get_corename() for every libopenblas mapped into the process (Debian's
python3-faiss has no threadpoolctl). Call after importing faiss and numpy, so their libraries are loaded."""
import ctypes
import os


def kernel():
    try:
        from threadpoolctl import threadpool_info
        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        return ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i.get('num_threads')} ({os.path.basename(i['filepath']).split('.')[0]})" for i in blas) or "no BLAS found"
    except ImportError:
        pass
    names = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "openblas" in os.path.basename(path) and ".so" in path:
                names.add(path)
    out = []
    for path in sorted(names):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            out.append(f"openblas {lib.openblas_get_corename().decode()} ({os.path.basename(path).split('.')[0]})")
        except (OSError, AttributeError):
            out.append(f"unknown ({os.path.basename(path)})")
    return ", ".join(out) or "unknown"
