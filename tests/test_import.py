"""`import ragfusion` and `ragfusion --help` must stay light: no torch, no model, no net."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "torch",
    "sentence_transformers",
    "transformers",
    "llama_cpp",
    "usearch",
    "tantivy",
    "onnxruntime",
    "onnx",
]


def loaded_modules(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_is_light() -> None:
    modules = loaded_modules("import ragfusion; ragfusion.__version__")
    assert not [m for m in HEAVY if m in modules]


def test_cli_help_is_light() -> None:
    code = (
        "import sys\nfrom ragfusion.cli import app\nsys.argv=['ragfusion','--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    modules = loaded_modules(code)
    assert not [m for m in HEAVY if m in modules]


def test_public_names_resolve() -> None:
    import ragfusion

    for name in ragfusion.__all__:
        assert getattr(ragfusion, name) is not None
