"""The `dreambot` command (`__main__.py`): the one place that knows every part it starts, the bot
(`dreambot run`), the sandbox (`dreambot sandbox`) and the engine's own commands, so that `bot`
never imports the sandbox or the local Discord."""
