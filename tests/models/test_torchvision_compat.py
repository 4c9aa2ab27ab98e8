import subprocess
import sys

from usae.models import torchvision_compat as _torchvision_compat


def test_torchvision_timm_and_lucent_import():
    code = "import usae.models.loaders, torchvision, timm, lucent.optvis; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr[-500:]


def test_schemas_declared_only_when_the_extension_cannot_load(monkeypatch):
    monkeypatch.setattr(_torchvision_compat, "_library", None)
    monkeypatch.setattr(_torchvision_compat, "torchvision_extension_loads", lambda: True)
    assert _torchvision_compat.ensure_torchvision_importable() is False
    assert _torchvision_compat._library is None


def test_schemas_cover_every_meta_registration():
    import importlib.util
    import re
    from pathlib import Path

    source = Path(importlib.util.find_spec("torchvision").origin).parent / "_meta_registrations.py"
    registered = set(re.findall(r'register_meta\("(\w+)"\)', source.read_text()))
    registered |= set(re.findall(r'register_fake\("torchvision::(\w+)"\)', source.read_text()))
    declared = {schema.split("(")[0] for schema in _torchvision_compat.TORCHVISION_OP_SCHEMAS}
    assert registered <= declared
