"""Image grids of retrieval results (queries in the first column, ranked results to the right)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw

from csdh.atomic_io import atomic_output
from csdh.data.transforms import resize_square


def retrieval_grid(queries: Sequence[np.ndarray], results: Sequence[Sequence[np.ndarray]], path: Union[str, Path],
                   relevant: Optional[Sequence[Sequence[bool]]] = None,
                   captions: Optional[Sequence[Sequence[str]]] = None, cell: int = 96) -> Path:
    """Write a PNG grid: one row per query, the query then its results.

    Args:
        queries: uint8 RGB images ``(H, W, 3)``.
        results: per query, the result images in rank order.
        relevant: per query and result, whether the result is relevant (green frame) or not (red);
            None draws no frames.
        captions: per query and result, a short text drawn under the result (e.g. the distance).
        cell: the size of each square tile in pixels.
    """
    n_cols = 1 + max((len(r) for r in results), default=0)
    pad, text_h = 4, 14
    w = n_cols * (cell + pad) + pad + 8
    h = len(queries) * (cell + text_h + pad) + pad
    canvas = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for row, (q, res) in enumerate(zip(queries, results)):
        y = pad + row * (cell + text_h + pad)
        canvas.paste(Image.fromarray(resize_square(q, cell)), (pad, y))
        draw.rectangle([pad - 2, y - 2, pad + cell + 1, y + cell + 1], outline=(40, 90, 200), width=2)
        draw.text((pad, y + cell + 1), "query", fill=(40, 90, 200))
        for col, img in enumerate(res):
            x = pad + 8 + (col + 1) * (cell + pad)
            canvas.paste(Image.fromarray(resize_square(img, cell)), (x, y))
            if relevant is not None:
                colour = (30, 160, 60) if relevant[row][col] else (210, 40, 40)
                draw.rectangle([x - 2, y - 2, x + cell + 1, y + cell + 1], outline=colour, width=2)
            if captions is not None:
                draw.text((x, y + cell + 1), str(captions[row][col]), fill=(0, 0, 0))
    path = Path(path)
    with atomic_output(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


def load_images(pool, positions: Sequence[int]) -> List[np.ndarray]:
    """Pool images at ``positions`` (helper for grids)."""
    return [pool.load(int(p)) for p in positions]
