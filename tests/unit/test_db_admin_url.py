"""The admin URL db_bootstrap builds from Aurora's master secret carries the TLS settings."""

from __future__ import annotations

import secrets

import pytest
from psycopg.conninfo import conninfo_to_dict

from paylab.devstack.database import admin_url_from_login
from paylab.infra.db_bootstrap import RDS_CA_BUNDLE

# A generated password with characters a URL must escape.
PASSWORD = f"{secrets.token_hex(4)}@/:{secrets.token_hex(4)}"
LOGIN = {"username": "paylab_admin", "password": PASSWORD, "host": "db.example", "port": 5432}


def test_verify_full_names_the_ca_bundle_libpq_checks_the_server_against() -> None:
    url = admin_url_from_login({**LOGIN, "dbname": "paylab"}, "verify-full", RDS_CA_BUNDLE)
    params = conninfo_to_dict(url)
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == RDS_CA_BUNDLE
    assert (params["user"], params["password"], params["dbname"]) == (
        "paylab_admin",
        PASSWORD,
        "paylab",
    )


def test_without_tls_settings_the_url_names_none() -> None:
    params = conninfo_to_dict(admin_url_from_login(LOGIN))
    assert "sslmode" not in params and "sslrootcert" not in params
    assert params["dbname"] == "postgres"


def test_a_secret_without_host_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="no host, port"):
        admin_url_from_login({"username": "u", "password": PASSWORD})
