"""A run's history says how it did TLS (its CA, no check, the client certificate's variables),
and its rerun command carries the same flags: the reproducer of an https finding must reach
the server as the run did."""

from __future__ import annotations

from pathlib import Path

import msgspec

from stress.pipeline import RunOptions, header_of
from stress.run_record import TlsRecord
from stress.scenario import TargetSpec, load_scenario


def test_a_run_header_records_its_tls_and_its_rerun_command_says_it(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\n[target]\nkind = "oauth2"\nbase_url = "https://127.0.0.1:1"\n'
        'client_cert_env = "CERT"\n[auth]\npassword = "pw"\n[policy]\nkind = "strict"\n'
        '[[steps]]\nop = "login"\n'
    )
    scenario = load_scenario(path)
    header = header_of(scenario, RunOptions(scenario_path=path, ca_file="ca.pem"))
    assert header.tls == TlsRecord(ca_file="ca.pem", client_cert_env="CERT")
    assert header.command[-4:-2] == ["--ca-file", "ca.pem"]
    insecure = header_of(scenario, RunOptions(scenario_path=path, insecure=True))
    assert "--insecure" in insecure.command
    bare = msgspec.structs.replace(
        scenario, target=TargetSpec(kind="oauth2", base_url="https://127.0.0.1:1")
    )
    assert header_of(bare, RunOptions(scenario_path=path)).tls is None
