import pytest
import torch

from csdh.data.transforms import translate
from csdh.engine.views import ViewInput, encoding_views


@pytest.mark.parametrize("flip,shift,names", [
    (False, 0, [""]),
    (True, 0, ["", "hflip"]),
    (False, 8, ["", "shift8r", "shift8l", "shift8d", "shift8u"]),
    (True, 3, ["", "hflip", "shift3r", "shift3l", "shift3d", "shift3u"]),
])
def test_encoding_views_are_named_and_ordered(flip, shift, names):
    assert [name for name, _ in encoding_views(flip, shift)] == names


def test_each_view_is_the_image_as_it_is_mirrored_or_moved():
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    views = dict(encoding_views(True, 2))
    assert torch.equal(views[""](x), x)
    assert torch.equal(views["hflip"](x), x.flip(3))
    for name, dx, dy in (("r", 2, 0), ("l", -2, 0), ("d", 0, 2), ("u", 0, -2)):
        assert torch.equal(views[f"shift2{name}"](x), translate(x, dx, dy)), name
    assert torch.equal(views["shift2r"](x)[..., 2:], x[..., :-2])  # right: column j comes from j - 2


def test_view_input_feeds_the_module_its_view():
    module = torch.nn.Conv2d(3, 4, 3)
    module.out_dim = 4
    wrapped = ViewInput(module, lambda x: x.flip(3))
    x = torch.rand(1, 3, 8, 8)
    assert wrapped.out_dim == 4
    assert torch.equal(wrapped(x), module(x.flip(3)))
