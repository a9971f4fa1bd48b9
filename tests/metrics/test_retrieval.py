"""Tests of csdh.metrics.retrieval: hand-computed cases, brute force over tie orders, naive loops."""
from __future__ import annotations

import itertools
import json
import math
from typing import List, Optional

import numpy as np
import pytest

from csdh.codes import pack
from csdh.metrics import (
    average_precisions,
    average_precisions_from_distances,
    default_ns,
    evaluate_all,
    mean_average_precision,
    precision_at_radius,
    precision_recall_at_n,
    precision_recall_curve,
    tie_aware_average_precisions,
    tie_aware_map,
)


# ----------------------------------------------------------------------------- helpers
def codes_at(distances: List[int], n_bytes: int = 1) -> np.ndarray:
    """Database codes at the given Hamming distances from the all-zero query code."""
    bits = np.zeros((len(distances), 8 * n_bytes), dtype=bool)
    for i, d in enumerate(distances):
        bits[i, :d] = True
    return np.packbits(bits, axis=1, bitorder="little")


def zero_query(n: int = 1, n_bytes: int = 1) -> np.ndarray:
    return np.zeros((n, n_bytes), dtype=np.uint8)


def rel_labels(rel: List[int]) -> np.ndarray:
    """Database labels: relevant items carry class 0, the others class 1 (query has class 0)."""
    return np.array([[1, 0] if r else [0, 1] for r in rel])


Q_LABEL = np.array([[1, 0]])


# naive, independent per-query references -------------------------------------------
def naive_dist(q: np.ndarray, d: np.ndarray) -> List[int]:
    qb = np.unpackbits(q, bitorder="little")
    return [int(np.sum(qb != np.unpackbits(row, bitorder="little"))) for row in d]


def naive_rel(ql: np.ndarray, dl: np.ndarray) -> List[bool]:
    return [bool(any(a and b for a, b in zip(ql, row))) for row in dl]


def naive_ap(dist: List[int], rel: List[bool], k: Optional[int] = None) -> float:
    order = sorted(range(len(dist)), key=lambda j: (dist[j], j))[: k or len(dist)]
    hits, total = 0, 0.0
    for i, j in enumerate(order, start=1):
        if rel[j]:
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def brute_tie_aware_ap(dist: List[int], rel: List[bool]) -> float:
    """Average of the AP over every database order consistent with the distances (all tie orders)."""
    aps = []
    for perm in itertools.permutations(range(len(dist))):
        if all(dist[a] <= dist[b] for a, b in zip(perm, perm[1:])):
            ranked = [rel[j] for j in perm]
            hits, total = 0, 0.0
            for i, r in enumerate(ranked, start=1):
                if r:
                    hits += 1
                    total += hits / i
            aps.append(total / hits if hits else 0.0)
    return float(np.mean(aps))


def hypergeometric_tie_aware_ap(dist: List[int], rel: List[bool]) -> float:
    """Expected AP from the full hypergeometric law of the relevant items ahead in each tie group."""
    total_rel = sum(rel)
    if total_rel == 0:
        return 0.0
    expected, n_before, r_before = 0.0, 0, 0
    for g in sorted(set(dist)):
        n = sum(1 for d in dist if d == g)
        r = sum(1 for d, x in zip(dist, rel) if d == g and x)
        for p in range(1, n + 1):  # a relevant item at position p of the group, probability r / n
            for j in range(0, min(p - 1, r - 1) + 1):  # j other relevant items among the p - 1 before
                if r == 0:
                    continue
                prob = math.comb(r - 1, j) * math.comb(n - r, p - 1 - j) / math.comb(n - 1, p - 1)
                expected += (r / n) * prob * (r_before + 1 + j) / (n_before + p)
        n_before += n
        r_before += r
    return expected / total_rel


def random_problem(seed: int, n_bits: int, nq: int = 12, nd: int = 150, n_classes: int = 4):
    rng = np.random.default_rng(seed)
    # few distinct codes -> many ties
    base = rng.standard_normal((6, n_bits))
    qB = pack(base[rng.integers(0, 6, nq)] + 0.8 * rng.standard_normal((nq, n_bits)))
    dB = pack(base[rng.integers(0, 6, nd)] + 0.8 * rng.standard_normal((nd, n_bits)))
    qL = (rng.random((nq, n_classes)) < 0.3).astype(np.int64)
    dL = (rng.random((nd, n_classes)) < 0.3).astype(np.int64)
    qL[0] = 0  # a query with no label, hence no relevant item
    return qB, dB, qL, dL


def naive_tables(qB, dB, qL, dL):
    return [naive_dist(q, dB) for q in qB], [naive_rel(l, dL) for l in qL]


# ------------------------------------------------------------------------- hand cases
def test_hand_computed_ap() -> None:
    # distances 0, 1, 1, 2, 3 in database order, relevance 0, 1, 0, 1, 1: the ranking is the database
    # order; hits at ranks 2, 4, 5 with precisions 1/2, 2/4, 3/5, so AP = (0.5 + 0.5 + 0.6) / 3 = 1.6 / 3
    dB = codes_at([0, 1, 1, 2, 3])
    aps = average_precisions(zero_query(), dB, Q_LABEL, rel_labels([0, 1, 0, 1, 1]))
    assert aps == pytest.approx([1.6 / 3], abs=1e-15)
    # the same items shuffled in the database: the ranking follows distance, not position
    dB = codes_at([3, 1, 0, 2, 1])
    assert mean_average_precision(zero_query(), dB, Q_LABEL, rel_labels([1, 1, 0, 1, 0])) == pytest.approx(1.6 / 3)


def test_ties_follow_database_order() -> None:
    # two items at distance 1; the relevant one comes second in the database: ranks (irrelevant,
    # relevant) -> AP = 1/2; stored first -> AP = 1. Tie-aware: the average of both orders, 3/4.
    dB = codes_at([1, 1])
    assert mean_average_precision(zero_query(), dB, Q_LABEL, rel_labels([0, 1])) == pytest.approx(0.5)
    assert mean_average_precision(zero_query(), dB, Q_LABEL, rel_labels([1, 0])) == pytest.approx(1.0)
    assert tie_aware_map(zero_query(), dB, Q_LABEL, rel_labels([0, 1])) == pytest.approx(0.75)
    assert tie_aware_map(zero_query(), dB, Q_LABEL, rel_labels([1, 0])) == pytest.approx(0.75)


def test_query_without_relevant_item_counts_zero() -> None:
    dB = codes_at([0, 1, 2])
    dL = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    qL = np.array([[1, 0, 0], [0, 0, 1]])  # the second query's class is absent from the database
    aps = average_precisions(zero_query(2), dB, qL, dL)
    np.testing.assert_allclose(aps, [1.0, 0.0])
    assert mean_average_precision(zero_query(2), dB, qL, dL) == pytest.approx(0.5)
    assert tie_aware_map(zero_query(2), dB, qL, dL) == pytest.approx(0.5)
    _, precision, recall = precision_recall_at_n(zero_query(2), dB, qL, dL, ns=[3])
    np.testing.assert_allclose(precision, [(2 / 3 + 0) / 2])
    np.testing.assert_allclose(recall, [(1 + 0) / 2])


def test_multi_label_relevance() -> None:
    # query has classes {0, 2}: items sharing 2, or 0, are relevant; no shared label -> irrelevant
    qL = np.array([[1, 0, 1]])
    dL = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    dB = codes_at([0, 1, 2, 3])
    # relevance by rank: 0, 1, 1, 0 -> AP = (1/2 + 2/3) / 2
    assert mean_average_precision(zero_query(), dB, qL, dL) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # labels may be bool or float
    assert mean_average_precision(zero_query(), dB, qL.astype(bool), dL.astype(np.float32)) == pytest.approx(
        (1 / 2 + 2 / 3) / 2
    )


def test_topk_with_ties_straddling_the_cut() -> None:
    # distances 0, 2, 1, 1, 1, 3; the stable ranking is items 0, 2, 3, 4, 1, 5. With k = 3 the
    # distance-1 group is cut: items 2 and 3 (database order) are in, item 4 is out.
    dB = codes_at([0, 2, 1, 1, 1, 3])
    dL = rel_labels([1, 0, 0, 0, 1, 1])
    # top 3 relevance 1, 0, 0 -> R_3 = 1, AP@3 = 1 (taking item 4 instead would give 5/6)
    assert mean_average_precision(zero_query(), dB, Q_LABEL, dL, topk=3) == pytest.approx(1.0)
    # top 4 relevance 1, 0, 0, 1 -> AP@4 = (1 + 2/4) / 2
    assert mean_average_precision(zero_query(), dB, Q_LABEL, dL, topk=4) == pytest.approx(0.75)
    # top 1 of a query whose nearest item is irrelevant -> R_1 = 0 -> AP 0
    assert mean_average_precision(zero_query(), dB, Q_LABEL, rel_labels([0, 1, 1, 1, 1, 1]), topk=1) == 0.0
    # k beyond the database means the whole database
    assert mean_average_precision(zero_query(), dB, Q_LABEL, dL, topk=100) == mean_average_precision(
        zero_query(), dB, Q_LABEL, dL
    )


@pytest.mark.parametrize("seed", range(3))
def test_topk_equals_truncated_full_stable_sort(seed: int) -> None:
    # 8-bit codes over 200 items: every distance group is large, so most cut-offs split a tie group
    qB, dB, qL, dL = random_problem(seed, 8, nq=6, nd=200)
    dists, rels = naive_tables(qB, dB, qL, dL)
    for k in [1, 2, 5, 17, 50, 99, 150, 199, 200]:
        expected = [naive_ap(d, r, k) for d, r in zip(dists, rels)]
        np.testing.assert_allclose(average_precisions(qB, dB, qL, dL, topk=k), expected, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- tie-aware
@pytest.mark.parametrize("seed", range(8))
def test_tie_aware_matches_brute_force_over_orders(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nd = 7
    dist = [int(x) for x in rng.integers(0, 3, nd)]  # three distances among 7 items: big tie groups
    rel = [bool(x) for x in rng.random(nd) < 0.5]
    expected = brute_tie_aware_ap(dist, rel)
    got = tie_aware_map(zero_query(), codes_at(dist), Q_LABEL, rel_labels([int(r) for r in rel]))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert hypergeometric_tie_aware_ap(dist, rel) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_tie_aware_ignores_database_order() -> None:
    qB, dB, qL, dL = random_problem(5, 16)
    perm = np.random.default_rng(0).permutation(len(dB))
    np.testing.assert_allclose(
        tie_aware_average_precisions(qB, dB[perm], qL, dL[perm]),
        tie_aware_average_precisions(qB, dB, qL, dL),
        rtol=1e-12,
    )


# ------------------------------------------------------------ naive loops, random data
@pytest.mark.parametrize("n_bits", [16, 48, 64])
def test_against_naive_loops(n_bits: int) -> None:
    qB, dB, qL, dL = random_problem(n_bits, n_bits)
    dists, rels = naive_tables(qB, dB, qL, dL)
    nd, nq = len(dB), len(qB)

    for k in [None, 10, 37]:
        expected = [naive_ap(d, r, k) for d, r in zip(dists, rels)]
        np.testing.assert_allclose(average_precisions(qB, dB, qL, dL, topk=k), expected, rtol=1e-12, atol=1e-15)
        assert mean_average_precision(qB, dB, qL, dL, topk=k) == pytest.approx(np.mean(expected), rel=1e-12)

    expected = [hypergeometric_tie_aware_ap(d, r) for d, r in zip(dists, rels)]
    np.testing.assert_allclose(tie_aware_average_precisions(qB, dB, qL, dL), expected, rtol=1e-10, atol=1e-14)

    radii, precision, recall = precision_recall_curve(qB, dB, qL, dL)
    np.testing.assert_array_equal(radii, np.arange(n_bits + 1))
    for r in list(range(0, n_bits + 1, 3)) + [n_bits]:
        p_sum = r_sum = 0.0
        for d, rel in zip(dists, rels):
            inside = [j for j in range(nd) if d[j] <= r]
            hits = sum(rel[j] for j in inside)
            p_sum += hits / len(inside) if inside else 0.0
            r_sum += hits / sum(rel) if sum(rel) else 0.0
        assert precision[r] == pytest.approx(p_sum / nq, rel=1e-12, abs=1e-15)
        assert recall[r] == pytest.approx(r_sum / nq, rel=1e-12, abs=1e-15)
        assert precision_at_radius(qB, dB, qL, dL, radius=r) == pytest.approx(p_sum / nq, rel=1e-12, abs=1e-15)

    ns = [1, 3, 10, 64, nd]
    got_ns, p_at_n, r_at_n = precision_recall_at_n(qB, dB, qL, dL, ns=ns)
    np.testing.assert_array_equal(got_ns, ns)
    for i, n in enumerate(ns):
        p_sum = r_sum = 0.0
        for d, rel in zip(dists, rels):
            top = sorted(range(nd), key=lambda j: (d[j], j))[:n]
            hits = sum(rel[j] for j in top)
            p_sum += hits / n
            r_sum += hits / sum(rel) if sum(rel) else 0.0
        assert p_at_n[i] == pytest.approx(p_sum / nq, rel=1e-12, abs=1e-15)
        assert r_at_n[i] == pytest.approx(r_sum / nq, rel=1e-12, abs=1e-15)


def test_chunk_size_does_not_change_results() -> None:
    qB, dB, qL, dL = random_problem(7, 48, nq=13)
    results = []
    for chunk_size in [1, 4, 13, 1000, None]:
        results.append(
            (
                average_precisions(qB, dB, qL, dL, chunk_size=chunk_size),
                average_precisions(qB, dB, qL, dL, topk=20, chunk_size=chunk_size),
                tie_aware_average_precisions(qB, dB, qL, dL, chunk_size=chunk_size),
                *precision_recall_curve(qB, dB, qL, dL, chunk_size=chunk_size),
                *precision_recall_at_n(qB, dB, qL, dL, chunk_size=chunk_size),
                precision_at_radius(qB, dB, qL, dL, chunk_size=chunk_size),
                json.dumps(evaluate_all(qB, dB, qL, dL, topk=20, chunk_size=chunk_size)),
            )
        )
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ curves and radius
def test_pr_curve_endpoints() -> None:
    qB, dB, qL, dL = random_problem(3, 16)
    radii, precision, recall = precision_recall_curve(qB, dB, qL, dL)
    has_relevant = ((qL @ dL.T) > 0).any(axis=1)
    # at radius K the ball is the whole database: recall 1 for queries with relevant items, 0 otherwise
    assert recall[-1] == pytest.approx(has_relevant.mean())
    assert precision[-1] == pytest.approx(((qL @ dL.T) > 0).mean())
    assert np.all(np.diff(recall) >= 0)
    assert radii[-1] == 16


def test_precision_at_radius_empty_ball_counts_zero() -> None:
    dB = codes_at([3, 4])
    qL, dL = np.array([[1, 0], [1, 0]]), rel_labels([1, 1])
    # both queries have empty balls at radius 2 -> 0; at radius 3 one item, relevant -> 1
    assert precision_at_radius(zero_query(2), dB, qL, dL, radius=2) == 0.0
    assert precision_at_radius(zero_query(2), dB, qL, dL, radius=3) == 1.0
    assert precision_at_radius(zero_query(2), dB, qL, dL, radius=99) == 1.0


# ----------------------------------------------------------------------- evaluate_all
def test_evaluate_all_matches_single_functions_and_is_json() -> None:
    qB, dB, qL, dL = random_problem(11, 64)
    ns = [1, 5, 25, 150]
    out = evaluate_all(qB, dB, qL, dL, topk=40, ns=ns, radius=20)
    assert json.loads(json.dumps(out)) == out
    assert out["map"] == mean_average_precision(qB, dB, qL, dL, topk=40)
    assert out["map_topk"] == 40
    assert out["map_tie_aware"] == tie_aware_map(qB, dB, qL, dL)
    assert out["precision_at_radius_20"] == precision_at_radius(qB, dB, qL, dL, radius=20)
    radii, precision, recall = precision_recall_curve(qB, dB, qL, dL)
    assert out["pr_curve"] == {"radius": radii.tolist(), "precision": precision.tolist(), "recall": recall.tolist()}
    n, p_at_n, r_at_n = precision_recall_at_n(qB, dB, qL, dL, ns=ns)
    assert out["pn_curve"] == {"n": n.tolist(), "precision": p_at_n.tolist(), "recall": r_at_n.tolist()}
    assert (out["n_queries"], out["n_database"], out["n_bits"]) == (12, 150, 64)

    default = evaluate_all(qB, dB, qL, dL)
    assert default["map_topk"] == "all"
    assert default["map"] == mean_average_precision(qB, dB, qL, dL)
    assert "precision_at_radius_2" in default
    assert default["pn_curve"]["n"] == default_ns(150)


def test_default_ns() -> None:
    assert default_ns(1) == [1]
    assert default_ns(150) == [1, 2, 5, 10, 20, 50, 100, 150]
    assert default_ns(1000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    assert default_ns(69_000)[-3:] == [20_000, 50_000, 69_000]


def test_rejects_bad_arguments() -> None:
    dB = codes_at([0, 1, 2])
    dL = rel_labels([1, 0, 1])
    with pytest.raises(ValueError, match="topk"):
        mean_average_precision(zero_query(), dB, Q_LABEL, dL, topk=0)
    with pytest.raises(ValueError, match="ns"):
        precision_recall_at_n(zero_query(), dB, Q_LABEL, dL, ns=[0, 2])
    with pytest.raises(ValueError, match="ns"):
        precision_recall_at_n(zero_query(), dB, Q_LABEL, dL, ns=[4])
    with pytest.raises(ValueError, match="radius"):
        precision_at_radius(zero_query(), dB, Q_LABEL, dL, radius=-1)
    with pytest.raises(ValueError, match="rows"):
        mean_average_precision(zero_query(), dB, Q_LABEL, dL[:2])
    with pytest.raises(ValueError, match="label widths"):
        mean_average_precision(zero_query(), dB, np.array([[1, 0, 0]]), dL)
    with pytest.raises(ValueError, match="2-D"):
        mean_average_precision(zero_query(), dB, Q_LABEL, np.array([0, 1, 0]))


def test_average_precisions_from_real_valued_distances_hand_case():
    scores = np.array([[0.9, 0.5, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]])
    relevant = np.array([[False, True, True, False], [False, False, False, False]])
    # ranks 2 and 3 are relevant: (1/2 + 2/3) / 2; a query with nothing relevant counts 0
    assert average_precisions_from_distances(-scores, relevant) == pytest.approx([(0.5 + 2 / 3) / 2, 0.0])
