import torch

from dreamcore.engine.inception5h import Inception5h
from dreamcore.engine.lrn import lrn, lrn_reference


def _input(*shape, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(*shape, generator=gen, dtype=dtype) * 40).requires_grad_(True)


def test_fast_local_response_norm_equals_torchs_forward_and_backward():
    x = _input(2, 64, 20, 24)
    fast, ref = lrn(x), lrn_reference(x)
    assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-4)
    upstream = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1))
    (g_fast,) = torch.autograd.grad(fast, x, upstream)
    (g_ref,) = torch.autograd.grad(ref, x, upstream)
    assert torch.allclose(g_fast, g_ref, rtol=1e-4, atol=1e-5)
    assert torch.allclose(
        Inception5h(fast_lrn=True).lrn(x), Inception5h(fast_lrn=False).lrn(x), atol=1e-4
    )


def test_the_written_out_backward_passes_gradcheck():
    assert torch.autograd.gradcheck(lrn, (_input(1, 12, 3, 4, dtype=torch.float64),))


def test_bf16_stays_close_to_fp32():
    x = _input(1, 64, 16, 16).detach()
    ref = lrn_reference(x)
    fast = lrn(x.bfloat16()).float()
    assert torch.allclose(fast, ref, rtol=2e-2, atol=1e-2 * float(ref.abs().max()))
