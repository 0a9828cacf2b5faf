# lit configuration for attnc: FileCheck tests of the dialect, its passes,
# the lowering pipeline, the examples and the attnc driver.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "attnc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attnc_obj_root, "test")

config.substitutions.append(("%examples", os.path.join(config.attnc_src_root, "examples")))
config.substitutions.append(("%attnc_src", config.attnc_src_root))
# Tests never touch the user's kernel cache.
config.environment["ATTNC_CACHE_DIR"] = os.path.join(config.test_exec_root, "kernel-cache")
config.substitutions.append(("%python", config.python_executable))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.attnc_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["attn-opt", "attn-translate", "attnc"], [config.attnc_tools_dir])
llvm_config.add_tool_substitutions(["FileCheck", "not", "count"], [config.llvm_tools_dir])

# The .npy round-trip against NumPy needs numpy in the test's Python.
try:
    import numpy  # noqa: F401
    config.available_features.add("numpy")
except ImportError:
    lit_config.note("numpy not found: tests that compare with NumPy are skipped")

# PTX/CUBIN tests need NVRTC (the CUDA toolkit); the emitted CUDA C++ does not.
import glob
nvrtc = os.environ.get("ATTNC_NVRTC_LIBRARY") or next(iter(
    glob.glob("/usr/local/cuda/lib64/libnvrtc.so*") +
    glob.glob(os.path.join(os.environ.get("CUDA_HOME", "/nonexistent"), "lib64/libnvrtc.so*"))), None)
if nvrtc:
    config.available_features.add("nvrtc")
else:
    lit_config.note("NVRTC not found: tests that compile CUDA to PTX/CUBIN are skipped")

# A GPU (an NVIDIA driver) turns `attnc run --target cuda` from a clear error
# into a real run; the tests for each case say which they need.
import ctypes
try:
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    lit_config.note("no CUDA driver: GPU runs are skipped; their no-GPU errors are tested")
