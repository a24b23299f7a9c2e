"""The `vanthu` CLI calls the services as a member of staff (R-15.5): it mints the portal's
short-lived token with the running system's key, naming the user and the role the staff list
gives them; without the key, or for someone not on the staff list, it refuses."""

from __future__ import annotations

from typer.testing import CliRunner

from devstack.cli import app
from shared.auth import PORTAL_ISSUER, ensure_keys, verify_token


def test_the_token_names_the_member_of_staff_and_their_role(tmp_path):
    ensure_keys(tmp_path / "auth", [PORTAL_ISSUER])
    result = CliRunner().invoke(app, ["token", "--as", "chutich", "--var-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    principal = verify_token(result.output.strip(), tmp_path / "auth")
    assert (principal.user, principal.role, principal.name) == ("chutich", "chairman", "Lê Văn Thành")


def test_no_token_for_someone_off_the_staff_list_or_without_the_systems_key(tmp_path):
    ensure_keys(tmp_path / "auth", [PORTAL_ISSUER])
    assert CliRunner().invoke(app, ["token", "--as", "ai-do", "--var-dir", str(tmp_path)]).exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = CliRunner().invoke(app, ["token", "--var-dir", str(empty)])
    assert missing.exit_code == 2 and "no portal key" in missing.output
