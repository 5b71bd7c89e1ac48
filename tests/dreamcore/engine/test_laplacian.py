"""Laplacian-pyramid normalisation: the split inverts exactly; every band ends up with unit RMS."""

import pytest
import torch

from dreamcore.engine import laplacian


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (1, 3, 65, 97), (1, 3, 300, 451)])
def test_split_then_merge_gives_back_the_input(shape):
    x = torch.randn(shape)
    bands = laplacian.split(x, 4)
    assert len(bands) == 5 and bands[-1].shape == x.shape
    assert torch.allclose(laplacian.merge(bands), x, atol=1e-5)


def test_normalize_evens_out_the_bands_and_zero_levels_is_the_identity():
    torch.manual_seed(0)
    fine = torch.randn(1, 3, 128, 128)
    coarse = (
        torch.nn.functional.interpolate(torch.randn(1, 3, 8, 8), size=(128, 128), mode="bilinear")
        * 50
    )
    x = fine + coarse  # most of the energy in the low frequencies
    assert laplacian.normalize(x, 0) is x

    def spread(t):
        rms = [b.pow(2).mean().sqrt().item() for b in laplacian.split(t, 3)]
        return max(rms) / min(rms)

    # measured: 5.6x between the strongest and weakest band before, 2.6x after (the bands of a
    # Laplacian pyramid overlap, so re-splitting the merged result is not exactly 1x)
    assert spread(laplacian.normalize(x, 3)) < spread(x) / 2
