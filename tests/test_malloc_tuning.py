import os
import subprocess
import sys

import pytest

from csdh.malloc_tuning import tune_malloc

# With glibc's own malloc (as torch's CPU allocator uses it), allocate, fill and free a 64 MiB block
# 20 times; print whether tuning was applied and the minor page faults the loop caused.
CHURN = """
import ctypes, resource, sys
from csdh.malloc_tuning import tune_malloc
print(int(tune_malloc()) if sys.argv[1] == "tune" else 0)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
def churn(times):
    for _ in range(times):
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
churn(1)  # the first touch of the heap is counted in neither run
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn(20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


BLOCK, TIMES = 64 << 20, 20  # as in CHURN


def pages_touched() -> int:
    return TIMES * BLOCK // os.sysconf("SC_PAGE_SIZE")  # os.sysconf exists on POSIX only


def churn(mode: str, env_switch: str = "1") -> tuple:
    env = dict(os.environ, CSDH_MALLOC_TUNING=env_switch)
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, env=env, check=True)
    applied, faults = out.stdout.split()
    return bool(int(applied)), int(faults)


glibc_linux = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                                 reason="malloc tuning applies to Linux with glibc only")


@glibc_linux
def test_tuned_allocator_reuses_large_blocks_instead_of_faulting_them_in_again():
    applied_default, faults_default = churn("default")
    applied, faults_tuned = churn("tune")
    assert not applied_default and applied
    pages = pages_touched()
    assert faults_default > pages // 2  # glibc maps each 64 MiB block afresh: one fault per touched page
    assert faults_tuned < pages // 20  # tuned: the heap block is reused, nearly no new faults


@glibc_linux
def test_environment_switch_turns_tuning_off():
    applied, faults = churn("tune", env_switch="0")
    assert not applied
    assert faults > pages_touched() // 2


def test_threshold_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        tune_malloc(0)
