"""Configuration of opcua and piwebapi sources: what is accepted, and each refusal names the field."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from thermaliq.config.model import Source
from thermaliq.sources.credentials import Credentials, source_credentials


def test_worked_configurations_of_the_readme_are_valid():
    opc = Source(kind="opcua", endpoint="opc.tcp://historian.plant.local:4840", namespace=2,
                 nodes={"FT-101": "ns=2;s=Boiler1.FT101", "TT-202": "0:Objects/2:Boiler1/2:TT202"},
                 username_env="OPC_USER", password_env="OPC_PASSWORD", security_mode="SignAndEncrypt",
                 certificate="pki/thermaliq-client.der", private_key="pki/thermaliq-client.pem")
    pi = Source(kind="piwebapi", url="https://pi.plant.local/piwebapi", data_server="PISRV01",
                auth="basic", username_env="PI_USER", password_env="PI_PASSWORD",
                ca_bundle="pki/plant-ca.pem", max_count=10000)
    assert opc.nodes["FT-101"] == "ns=2;s=Boiler1.FT101" and pi.data_server == "PISRV01"


@pytest.mark.parametrize("fields, message", [
    ({"kind": "opcua"}, "needs 'endpoint' starting with opc.tcp://"),
    ({"kind": "opcua", "endpoint": "http://x:4840"}, "needs 'endpoint' starting with opc.tcp://"),
    ({"kind": "opcua", "endpoint": "opc.tcp://x:4840", "security_mode": "SignAndEncrypt"},
     "needs 'certificate' and 'private_key'"),
    ({"kind": "opcua", "endpoint": "opc.tcp://x:4840", "password_env": "P"}, "needs 'username_env'"),
    ({"kind": "opcua", "endpoint": "opc.tcp://x:4840", "certificate": "../key.der",
      "private_key": "k.pem", "security_mode": "SignAndEncrypt"}, "must stay inside the home"),
    ({"kind": "piwebapi", "url": "https://pi/piwebapi"}, "needs 'data_server'"),
    ({"kind": "piwebapi", "url": "pi/piwebapi", "data_server": "S"}, "needs 'url' starting with http"),
    ({"kind": "piwebapi", "url": "https://pi/piwebapi", "data_server": "S", "auth": "basic",
      "username_env": "U"}, "auth basic needs"),
    ({"kind": "piwebapi", "url": "https://pi/piwebapi", "data_server": "S", "auth": "bearer"},
     "auth bearer needs"),
    ({"kind": "piwebapi", "url": "https://pi/piwebapi", "data_server": "S", "auth": "basic",
      "username_env": "U", "password_env": "hunter2 pasted here"}, "password_env must be the NAME"),
    ({"kind": "piwebapi", "url": "https://pi/piwebapi", "data_server": "S", "auth": "basic",
      "username_env": "U", "password_env": "P", "password_block": "pw"}, "either password_env or"),
])
def test_bad_source_fields_are_refused_naming_the_field(fields, message):
    with pytest.raises(ValidationError, match=message) as info:
        Source(**fields)
    assert "hunter2" not in str(info.value).split("input_value")[0]


def test_credentials_come_from_the_named_variables_and_a_block_value(monkeypatch):
    monkeypatch.setenv("U_VAR", "operator")
    monkeypatch.setenv("P_VAR", "pw-123")
    src = Source(kind="opcua", endpoint="opc.tcp://x:4840", username_env="U_VAR", password_env="P_VAR")
    creds = source_credentials(src)
    assert (creds.username, creds.password) == ("operator", "pw-123")
    assert "pw-123" not in repr(creds) and repr(creds) == "Credentials(username, password set)"
    block = Source(kind="opcua", endpoint="opc.tcp://x:4840", username_env="U_VAR", password_block="opc-pw")
    assert source_credentials(block, "from-block").password == "from-block"
    monkeypatch.delenv("P_VAR")
    with pytest.raises(ValueError, match="P_VAR is not set"):
        source_credentials(src)
    assert Credentials().secrets() == []
