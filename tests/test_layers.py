"""The library layer never loads the orchestration layer (DESIGN §1)."""
import subprocess
import sys


def test_import_thermaliq_loads_neither_prefect_nor_great_expectations():
    code = ("import sys, importlib, pkgutil, thermaliq\n"
            "for m in pkgutil.iter_modules(thermaliq.__path__):\n"
            "    importlib.import_module('thermaliq.' + m.name)\n"
            "print(sorted(n for n in ('prefect', 'great_expectations') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
