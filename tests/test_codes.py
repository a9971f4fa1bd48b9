import faiss
import numpy as np
import pytest

from csdh.codes import (check_bits, code_moment, dither_thresholds, hamming, hamming_from_signs, pack, pack_dithered,
                        pack_shaped, shape_codes, shaping_error, sign, unpack)
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


def test_dither_thresholds_are_evenly_spaced_in_a_seeded_order():
    tau = dither_thresholds(48, 0.9, seed=3)
    assert tau.dtype == np.float32 and tau.shape == (48,)
    centres = (2 * (np.arange(48) + 0.5) / 48 - 1) * 0.9  # the centres of 48 equal bins of (-0.9, 0.9)
    assert np.allclose(np.sort(tau), centres, atol=1e-6)
    assert np.array_equal(tau, dither_thresholds(48, 0.9, seed=3))
    assert not np.array_equal(tau, dither_thresholds(48, 0.9, seed=4))
    assert not np.array_equal(tau, np.sort(tau))  # shuffled: neighbouring bits get unrelated thresholds
    assert np.array_equal(dither_thresholds(16, 0.0), np.zeros(16, np.float32))
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(UserError, match="database dither"):
            dither_thresholds(16, bad)


def test_dithered_codes_keep_confident_bits_and_flip_more_as_doubt_grows():
    rng = np.random.default_rng(0)
    tau = dither_thresholds(64, 0.9, seed=0)
    signs = np.where(rng.random((1, 64)) < 0.5, -1.0, 1.0).astype(np.float32)
    confident = signs * 0.95  # every |h| beyond the spread: nothing changes
    assert np.array_equal(pack(confident - tau), pack(confident))
    flips = []
    for magnitude in (0.8, 0.5, 0.2, 0.05):  # the same sign pattern, less and less sure
        code = pack(signs * magnitude - tau)
        flips.append(int(hamming(code, pack(signs))[0, 0]))
        # a bit flips exactly when its threshold lies beyond |h| on the side of its sign
        assert flips[-1] == int(np.sum(np.where(signs[0] > 0, tau > magnitude, tau <= -magnitude)))
    assert flips == sorted(flips) and flips[0] < flips[-1]
    assert flips[0] <= 64 // 8 and flips[-1] >= 64 // 4  # (0.9 - |h|) / 1.8 of the bits, in expectation


def _class_codes(rng, n_classes=4, k=16, n=300, centres=None):
    """Continuous codes, graded and noisy, near ``centres`` (default: ``n_classes`` random ±1 ones)."""
    if centres is None:
        centres = np.where(rng.random((n_classes, k)) < 0.5, -1.0, 1.0)
    y = rng.integers(0, len(centres), n)
    h = np.clip(centres[y] * rng.uniform(0.2, 1.0, (n, k)) + rng.normal(0, 0.3, (n, k)), -1, 1)
    return h.astype(np.float32), y, centres


def test_code_moment_is_the_mean_outer_product_of_the_signs():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(50, 8)).astype(np.float32)
    naive = sum(np.outer(s, s) for s in np.where(h >= 0, 1.0, -1.0)) / 50
    assert np.allclose(code_moment(h), naive)
    assert np.allclose(np.diag(code_moment(h)), 1.0)
    assert code_moment(np.zeros((0, 8))).shape == (8, 8)


def test_shaping_with_the_identity_moment_is_the_plain_sign():
    rng = np.random.default_rng(1)
    h = rng.uniform(-1, 1, (40, 16)).astype(np.float32)
    start = sign(h - dither_thresholds(16, 0.9, seed=0))
    assert np.array_equal(shape_codes(h, np.eye(16), start), sign(h))  # each bit on its own: nearest is sign


def test_shaped_codes_are_a_local_minimum_no_worse_than_the_start():
    rng = np.random.default_rng(2)
    h, _, _ = _class_codes(rng)
    G = code_moment(_class_codes(np.random.default_rng(3))[0])
    start = sign(h - dither_thresholds(16, 0.95, seed=0))
    b = shape_codes(h, G, start)
    assert b.dtype == np.int8 and set(np.unique(b)) <= {-1, 1}
    err = shaping_error(b, h, G)
    assert np.all(err <= shaping_error(start, h, G) + 1e-9) and err.mean() < shaping_error(start, h, G).mean()
    naive = np.array([[(b[i] - h[i]) @ G @ (b[i] - h[i]) for i in range(len(h))]])[0]
    assert np.allclose(err, naive)
    for k in range(16):  # no single flip lowers the error of any row
        flipped = b.copy()
        flipped[:, k] *= -1
        assert np.all(shaping_error(flipped, h, G) >= err - 1e-9)
    assert np.array_equal(shape_codes(h, G, start), b)  # deterministic
    halves = np.concatenate([shape_codes(h[:7], G, start[:7]), shape_codes(h[7:], G, start[7:])])
    assert np.array_equal(halves, b)  # each row on its own: codes do not depend on how items are batched


def test_shaped_codes_follow_the_continuous_inner_products_of_query_like_codes():
    """The point of shaping: queries drawn like the training codes see Hamming distances closer to the
    continuous inner products than under the dithered or plain signs."""
    rng = np.random.default_rng(4)
    h, y, centres = _class_codes(rng, n=600)
    train, _, _ = _class_codes(np.random.default_rng(5), n=600, centres=centres)  # other items, same classes
    queries = sign(train[:200]).astype(np.float64)
    G = code_moment(train)
    tau = dither_thresholds(16, 0.95, seed=0)

    def error(b):
        return np.mean((queries @ b.T.astype(np.float64) - queries @ h.T.astype(np.float64)) ** 2)

    shaped = shape_codes(h, G, sign(h - tau))
    assert error(shaped) < error(sign(h - tau)) and error(shaped) < error(sign(h))
    assert np.array_equal(pack_shaped(h, G, 0.95, seed=0), pack(shaped))
    assert np.array_equal(pack_shaped(h, G, 0.0), pack(shape_codes(h, G, sign(h))))
    assert pack_shaped(h, G, 0.95).shape == pack_dithered(h, 0.95).shape


def test_shape_codes_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes do not fit"):
        shape_codes(np.zeros((3, 8)), np.eye(16), np.ones((3, 8)))
    with pytest.raises(ValueError, match="shapes do not fit"):
        shape_codes(np.zeros((3, 8)), np.eye(8), np.ones((2, 8)))
