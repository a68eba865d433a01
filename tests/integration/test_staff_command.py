"""`python -m storefront staff …`: the shop owner makes and manages back-office accounts on the
server, where no web form can be reached by anyone else."""

import os
import subprocess
import sys

import pytest

from storefront.admin.accounts import AccountError, add_account, remove_account
from storefront.admin.models import Role
from tests.support.db import ROOT, query, with_database


def staff(settings, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storefront", "staff", *args],
        cwd=ROOT,
        env={**os.environ, "STOREFRONT_DATABASE_URL": settings.database_url},
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )


def test_accounts_are_added_listed_given_a_new_password_and_removed(settings):
    added = staff(
        settings, "add", "Inhaberin@Example.ch", "--role", "owner", "--password-stdin", password="Velo-Kaffee-Zug-42"
    )
    assert added.returncode == 0, added.stderr
    assert "inhaberin@example.ch: owner account created" in added.stdout
    stored = query(settings.database_url, "SELECT email, role, password_hash FROM staff_account")
    assert [(email, role) for email, role, _hash in stored] == [("inhaberin@example.ch", "owner")]
    assert stored[0][2].startswith("$argon2id$")  # never the password itself
    assert "Velo-Kaffee-Zug-42" not in added.stdout + added.stderr
    assert (
        staff(
            settings, "add", "laden@example.ch", "--role", "staff", "--password-stdin", password="Laden-Theke-Bern-7"
        ).returncode
        == 0
    )

    listed = staff(settings, "list")
    assert "inhaberin@example.ch  owner" in listed.stdout and "laden@example.ch  staff" in listed.stdout

    changed = staff(settings, "password", "laden@example.ch", "--password-stdin", password="Neue-Theke-Bern-8")
    assert changed.returncode == 0 and "password changed" in changed.stdout

    removed = staff(settings, "remove", "laden@example.ch")
    assert removed.returncode == 0
    assert query(settings.database_url, "SELECT email FROM staff_account") == [("inhaberin@example.ch",)]


def test_the_command_says_why_it_refuses_and_exits_non_zero(settings):
    weak = staff(settings, "add", "a@example.ch", "--role", "owner", "--password-stdin", password="password1234")
    assert weak.returncode == 1 and "most commonly used" in weak.stderr
    assert query(settings.database_url, "SELECT count(*) FROM staff_account") == [(0,)]


def test_no_two_accounts_share_an_address_and_the_last_owner_stays(settings):
    async def work(database, _catalog):
        await add_account(database, "a@example.ch", Role.OWNER, "Velo-Kaffee-Zug-42")
        with pytest.raises(AccountError, match="already an account"):
            await add_account(database, "A@Example.ch ", Role.STAFF, "Velo-Kaffee-Zug-43")
        with pytest.raises(AccountError, match="last owner"):
            await remove_account(database, "a@example.ch")
        await add_account(database, "b@example.ch", Role.OWNER, "Velo-Kaffee-Zug-44")
        await remove_account(database, "a@example.ch")  # another owner is left
        with pytest.raises(AccountError, match="no account"):
            await remove_account(database, "nobody@example.ch")

    with_database(settings, work)
    assert query(settings.database_url, "SELECT email FROM staff_account") == [("b@example.ch",)]
