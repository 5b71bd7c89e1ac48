import subprocess
import sys


def test_contract_modules_do_not_import_torch():
    code = (
        "import sys, dreamcore.request, dreamcore.catalog, dreamcore.errors, dreamcore.config, "
        "dreamcore.imaging, bot.settings; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
