"""The starter's mint login, moved beside the scenario it is written into."""

from __future__ import annotations

from pathlib import Path

from stress.starter import MintLogin


def test_a_mint_command_is_rewritten_for_the_scenario_folder(tmp_path: Path) -> None:
    (tmp_path / "login.py").write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "login.sh").write_text("")
    (tmp_path / "out").mkdir()
    folder = tmp_path / "out"
    python = MintLogin(("python3", "login.py", "{target}", "user{n}", "missing.py"))
    assert python.moved(tmp_path, folder).command == (
        "python3",  # a bare program name: looked up on PATH wherever it runs
        "../login.py",  # an existing file: found again from the scenario's folder
        "{target}",
        "user{n}",
        "missing.py",  # names nothing here: the command's own business
    )
    script = MintLogin(("bin/login.sh", "{n}"))
    assert script.moved(tmp_path, folder).command == ("../bin/login.sh", "{n}")
    assert script.moved(tmp_path, tmp_path).command == ("bin/login.sh", "{n}")
    beside = MintLogin(("./login.py",))
    assert beside.moved(tmp_path, tmp_path).command == ("./login.py",)  # still a path
    absolute = MintLogin(("/usr/bin/env", str(tmp_path / "login.py")))
    assert absolute.moved(tmp_path, folder) == absolute
