"""The built wheel runs the app: templates, static files and migrations travel with it."""
from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel

CHECK_SCRIPT = textwrap.dedent('''
    import re, sys
    import eventapp
    from eventapp import create_app

    assert "site-packages" in eventapp.__file__ and not eventapp.__file__.startswith(sys.argv[1]), eventapp.__file__
    app = create_app()
    assert app.template_folder.startswith(sys.prefix), app.template_folder
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 200, home.status_code
    assert "Community Safety Assemblies" in home.get_data(as_text=True)
    login = client.get("/login")
    assert login.status_code == 200 and "Staff sign in" in login.get_data(as_text=True)
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()
    print("OK", app.config["SQLALCHEMY_DATABASE_URI"])
''')


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_contains_and_runs_the_app(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)], timeout=300)
    (wheel,) = dist.glob("eventapp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("eventapp/__init__.py", "eventapp/templates/base.html", "eventapp/templates/macros.html",
                     "eventapp/static/app.css", "eventapp/migrations/env.py", "eventapp/migrations/alembic.ini",
                     "eventapp/migrations/versions/0001_initial_schema.py"):
        assert expected in names, expected
    assert not any(n.startswith(("tests/", "eventapp/tests/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies come from the test environment's site-packages, read through a plain
    # .pth line: unlike site.addsitedir it runs no .pth file there, so the editable install
    # of the checkout stays invisible and eventapp can only come from the wheel.
    (purelib,) = env_dir.glob("lib/python*/site-packages")
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "test_deps.pth").write_text("\n".join(deps) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
         timeout=300)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # flask lives in the test environment's site-packages, so its console script is not in the venv.
    upgraded = _run([str(python), "-m", "flask", "--app", "eventapp", "db", "upgrade"], cwd=workdir, env=env,
                    timeout=120)
    assert "Running upgrade  -> 0001" in upgraded.stderr + upgraded.stdout
    (workdir / "check.py").write_text(CHECK_SCRIPT)
    checked = _run([str(python), "check.py", str(ROOT)], cwd=workdir, env=env, timeout=120)
    # The embedded default: SQLite in the installation's instance folder, with a generated key.
    assert checked.stdout.startswith("OK sqlite:///" + str(env_dir)), checked.stdout
    instance = next(env_dir.glob("var/eventapp-instance"))
    assert (instance / "eventapp.sqlite3").exists() and (instance / "secret_key").exists()
