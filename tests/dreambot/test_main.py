"""`dreambot` (dreambot/__main__.py): subcommands dispatch, configuration errors are one line."""

from dreambot.__main__ import build_parser, main


def test_subcommands():
    parser = build_parser()
    for command in ("run", "models", "fetch-weights"):
        assert parser.parse_args([command]).command == command
    assert parser.parse_args(["dream", "in.png", "-o", "out.png"]).command == "dream"


def test_run_without_a_token_says_how_to_give_one(monkeypatch, capsys):
    monkeypatch.delenv("DREAMBOT_DISCORD__TOKEN", raising=False)
    assert main(["run"]) == 2
    assert "set the environment variable DREAMBOT_DISCORD__TOKEN" in capsys.readouterr().err


def test_bad_configuration_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("DREAMBOT_POOL__QUEUE_SIZE", "zero")
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad configuration") and "Traceback" not in err
