# Shared by scripts/test and scripts/screenshot-sandbox: Debian's Chromium for the sandbox page's
# browser tests. Never `playwright install`: it downloads its own browsers (impossible offline).
# Installs only as root with apt-get (as on CI); elsewhere the browser tests say why they skip.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "note: no Chromium; the browser tests will be skipped (apt-get install chromium)" >&2
        return 0
    fi
    echo "installing Chromium for the browser tests (apt-get install chromium)..." >&2
    # the emoji font lets the page's 🌀 and ⏱ render in screenshots
    if ! { apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji \
        >/dev/null; }; then
        echo "note: could not install Chromium; the browser tests will be skipped" >&2
    fi
}
