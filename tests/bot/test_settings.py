import tomllib

import pytest

from bot.settings import DEFAULT_CONFIG_FILE, Settings, load_settings


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "weights_files":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def test_default_toml_lists_every_setting_with_the_code_default(monkeypatch):
    monkeypatch.delenv("DREAMBOT_DISCORD__TOKEN", raising=False)
    file_values = _flatten(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    code_defaults = _flatten(Settings.model_construct().model_dump(mode="json"))
    code_defaults.pop("discord.token")  # a secret: environment only, never in the file
    assert set(file_values) == set(code_defaults)
    for key, value in file_values.items():
        expected = code_defaults[key]
        if isinstance(expected, list):
            value = list(value)
        assert value == expected, key


def test_environment_overrides_nested_keys(monkeypatch):
    monkeypatch.setenv("DREAMBOT_POOL__CPU_WORKERS", "3")
    monkeypatch.setenv("DREAMBOT_ENGINE__DEVICE", "cpu")
    monkeypatch.setenv("DREAMBOT_DISCORD__TOKEN", "sekrit-token")
    s = load_settings()
    assert s.pool.cpu_workers == 3 and s.engine.device == "cpu"
    assert s.discord.token.get_secret_value() == "sekrit-token"
    assert "sekrit-token" not in repr(s) and "sekrit-token" not in str(s.model_dump())


def test_a_token_in_the_config_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "c.toml"
    bad.write_text('[discord]\ntoken = "abc"\n')
    monkeypatch.setenv("DREAMBOT_CONFIG", str(bad))
    with pytest.raises(ValueError, match="secrets come only from the environment"):
        load_settings()


def test_unknown_models_in_config_are_refused(monkeypatch):
    monkeypatch.setenv("DREAMBOT_ENGINE__MODELS", '["inception5h", "nope"]')
    with pytest.raises(Exception, match="not a model"):
        load_settings()
