# Shared by scripts/dreambot and scripts/test: make sure .venv exists and holds the project.
# Re-installs only when pyproject.toml changed (a stamp file remembers its hash).
# Usage: ensure_venv EXTRAS   (e.g. "" or "dev")
ensure_venv() {
    local extras="$1" venv="${DREAMBOT_VENV:-.venv}" python="${PYTHON:-python3}"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
    fi
    local stamp="$venv/.dreambot-installed-${extras:-base}"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        local spec="."
        [ -n "$extras" ] && spec=".[$extras]"
        "$venv/bin/python" -m pip install --quiet --editable "$spec"
        echo "$want" > "$stamp"
    fi
    export PATH="$PWD/$venv/bin:$PATH"
}
