import faiss
import numpy as np
import pytest

from csdh.codes import check_bits, hamming, hamming_from_signs, pack, sign, unpack
from csdh.errors import UserError


def test_sign_of_zero_is_plus_one():
    assert sign(np.array([[-0.5, 0.0, 0.5]])).tolist() == [[-1, 1, 1]]


def test_pack_is_lsb_first():
    h = -np.ones((1, 16))
    h[0, 0] = 1  # bit 0 -> byte 0, value 1
    h[0, 9] = 1  # bit 9 -> byte 1, value 2
    assert pack(h).tolist() == [[1, 2]]


@pytest.mark.parametrize("bits", [8, 16, 48, 64])
def test_pack_unpack_roundtrip(bits):
    rng = np.random.default_rng(bits)
    h = rng.uniform(-1, 1, size=(20, bits))
    assert np.array_equal(unpack(pack(h)), sign(h))


@pytest.mark.parametrize("bits", [16, 48, 64])
def test_packing_matches_faiss_bit_order(bits):
    """FAISS reads bit j of a code from byte j // 8 at position j % 8: its distances must equal ours."""
    rng = np.random.default_rng(1)
    hq = rng.uniform(-1, 1, size=(7, bits))
    hd = rng.uniform(-1, 1, size=(50, bits))
    q, d = pack(hq), pack(hd)
    index = faiss.IndexBinaryFlat(bits)
    index.add(d)
    dist, ids = index.search(q, len(d))
    ours = hamming(q, d)
    naive = np.array([[int((sign(a) != sign(b)).sum()) for b in hd] for a in hq])
    assert np.array_equal(ours, naive)
    for row in range(len(q)):
        assert np.array_equal(dist[row], ours[row, ids[row]])
    # FAISS's own packer (utils/hamming: bit i -> byte i >> 3, position i & 7) gives our bytes
    x = np.ascontiguousarray(hq, dtype=np.float32)
    for row in range(len(x)):
        out = np.zeros(bits // 8, dtype=np.uint8)
        faiss.real_to_binary(bits, faiss.swig_ptr(x[row]), faiss.swig_ptr(out))
        assert np.array_equal(out, q[row])


def test_hamming_from_signs_agrees():
    rng = np.random.default_rng(2)
    a, b = sign(rng.normal(size=(5, 24))), sign(rng.normal(size=(9, 24)))
    assert np.array_equal(hamming_from_signs(a, b), hamming(pack(a), pack(b)))


@pytest.mark.parametrize("bits", [0, 7, 12, -8])
def test_bits_must_be_multiple_of_eight(bits):
    with pytest.raises(UserError, match="multiple of 8"):
        check_bits(bits)
