"""A tiny trained run and image folder, shared by the index, service and CLI tests.

Training one epoch of a 16-bit head on 24 PNGs with a randomly initialised backbone takes a few seconds;
the run is made once per test session (in pytest's base temporary folder) and reused.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

COLOURS = [(200, 40, 40), (40, 180, 40), (40, 60, 200)]
CLASSES = ["red", "green", "blue"]


def write_photos(root: Path, per_class: int = 8, size: int = 24, seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: noisy flat colours, one colour per class."""
    rng = np.random.default_rng(seed)
    for name, colour in zip(CLASSES, COLOURS):
        for i in range(per_class):
            img = np.clip(np.array(colour)[None, None, :] + rng.integers(-50, 50, (size, size, 3)), 0, 255)
            path = root / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.astype(np.uint8)).save(path)
    return root


def tiny_assets(base: Path) -> SimpleNamespace:
    """``photos`` (24 PNGs in 3 class folders), ``run`` (a trained 16-bit run) and ``other_run`` (the same
    run with a changed model, so a different checksum); made once under ``base``."""
    import torch

    from csdh.engine.pipeline import make_config, train_run

    base.mkdir(parents=True, exist_ok=True)
    photos, run, other = base / "photos", base / "run", base / "other_run"
    if not (other / "model.pt").exists():
        write_photos(photos)
        config = make_config(dataset="image-folder", data_dir=str(photos), bits=16, epochs=1, input_size=32,
                             batch_size=8, n_val=3)
        train_run(config, run, overwrite=True, pretrained=False)
        shutil.copytree(run, other)
        state = torch.load(other / "model.pt", map_location="cpu", weights_only=True)
        for value in state["head"].values():
            if value.is_floating_point():
                value.add_(0.01)
        torch.save(state, other / "model.pt")
    return SimpleNamespace(photos=photos, run=run, other_run=other, base=base)



def tiny_in_temp_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The body of the ``tiny`` fixtures: :func:`tiny_assets` under pytest's base temporary folder, with
    ``CSDH_CACHE`` pointed into it until the fixture is torn down."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.getbasetemp() / "csdh-tiny"
    mp.setenv("CSDH_CACHE", str(base / "cache"))
    yield tiny_assets(base)
    mp.undo()
