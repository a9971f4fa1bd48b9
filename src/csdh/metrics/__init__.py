"""Retrieval metrics for packed binary codes: pure numpy, arrays in, numbers out.

Every metric takes ``(query_codes, db_codes, query_labels, db_labels, ...)``; see
:mod:`csdh.metrics.retrieval` for the shared conventions (relevance, ties, queries with no relevant
item). Only :mod:`csdh.metrics.plots` writes files.
"""
from csdh.metrics.distances import default_chunk_size, hamming_distances, iter_hamming_chunks
from csdh.metrics.plots import plot_pr_curves, plot_precision_at_n, write_metrics_files
from csdh.metrics.retrieval import (
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

__all__ = [
    "average_precisions",
    "average_precisions_from_distances",
    "default_chunk_size",
    "default_ns",
    "evaluate_all",
    "hamming_distances",
    "iter_hamming_chunks",
    "mean_average_precision",
    "plot_pr_curves",
    "plot_precision_at_n",
    "precision_at_radius",
    "precision_recall_at_n",
    "precision_recall_curve",
    "tie_aware_average_precisions",
    "tie_aware_map",
    "write_metrics_files",
]
