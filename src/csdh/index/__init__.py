"""Binary-code indexes on disk: FAISS Hamming search, SQLite metadata, atomic builds, image search."""
from csdh.index.binary_index import DEFAULT_PARAMS, KINDS, HammingIndex
from csdh.index.builder import BuildReport, add_to_index, build_index, remove_from_index
from csdh.index.image_index import ImageIndex
from csdh.index.manifest import FORMAT_VERSION, Manifest
from csdh.index.metadata import Item, MetadataStore
from csdh.index.searcher import Hit, Searcher
from csdh.index.sources import ImageSource, SourceEntry, dataset_source, folder_source, list_source, pool_source

__all__ = [
    "BuildReport", "DEFAULT_PARAMS", "FORMAT_VERSION", "HammingIndex", "Hit", "ImageIndex", "ImageSource", "Item",
    "KINDS", "Manifest", "MetadataStore", "Searcher", "SourceEntry", "add_to_index", "build_index", "dataset_source",
    "folder_source", "list_source", "pool_source", "remove_from_index",
]
