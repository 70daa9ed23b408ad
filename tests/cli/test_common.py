"""What every command shares: the TARGET import, --app-dir and --env, exit codes, output modes."""

from __future__ import annotations

import io
import os
import sys

import pytest

from cliutil import SETTINGS, cli, project  # noqa: F401 - fixtures
from livesettings._cli.common import ExitCode, Output


class TestTarget:
    @pytest.mark.parametrize("spec", ["nocolon", ":Cls", "mod:", ""])
    def test_malformed(self, project, cli, spec) -> None:
        """A TARGET that is not module:Class is a usage error explaining the form."""
        result = cli("check", spec)
        assert result.code == 2 and "module:Class" in result.err

    def test_missing_module(self, project, cli) -> None:
        """A module that cannot be found is a usage error pointing at --app-dir."""
        result = cli("check", "no_such_module_x:AppSettings")
        assert result.code == 2 and "--app-dir" in result.err

    def test_missing_attribute(self, project, cli) -> None:
        """A module without the attribute is a usage error."""
        result = cli("check", project.spec("Nope"))
        assert result.code == 2 and "has no attribute 'Nope'" in result.err

    def test_not_a_settings_class(self, project, cli) -> None:
        """An attribute that is not a ReloadableSettings class is a usage error."""
        result = cli("check", project.spec("not_settings"))
        assert result.code == 2 and "not a ReloadableSettings class" in result.err

    def test_module_failing_on_import(self, project, cli) -> None:
        """A module that raises while imported exits 1 with the error."""
        project.write("broken_mod_x.py", "raise RuntimeError('boom at import')\n")
        result = cli("check", "broken_mod_x:AppSettings")
        sys.modules.pop("broken_mod_x", None)
        assert result.code == 1 and "boom at import" in result.err

    def test_module_building_an_invalid_settings_object(self, project, cli) -> None:
        """A module that builds its settings at import with an invalid config exits 1 with the details."""
        project.write("eager_mod_x.py", SETTINGS + "\nsettings = AppSettings()\n")
        project.config.write_text(project.config.read_text().replace("pool_size: 5", "pool_size: x"))
        result = cli("check", "eager_mod_x:AppSettings")
        sys.modules.pop("eager_mod_x", None)
        assert result.code == 1 and "config/app.yaml:6:14: database.pool_size:" in result.err

    def test_instance_accepted(self, project, cli) -> None:
        """module:instance names the instance's class."""
        project.write("inst_mod_x.py", SETTINGS + "\nsettings = TokenSettings()\n")
        result = cli("show", "inst_mod_x:settings")
        sys.modules.pop("inst_mod_x").settings.close()
        assert result.code == 0 and "port = 8080  default" in result.out

    def test_app_dir(self, project, cli, tmp_path_factory, monkeypatch) -> None:
        """--app-dir imports from another directory (files still resolve from the working directory),
        and sys.path is put back afterwards."""
        elsewhere = tmp_path_factory.mktemp("elsewhere")
        monkeypatch.chdir(elsewhere)
        before = list(sys.path)
        assert cli("check", project.target).code == 2
        result = cli("show", project.spec("TokenSettings"), "--app-dir", str(project.root), "--json")
        assert result.code == 0, result.err
        assert sys.path == before

    def test_app_dir_must_exist(self, project, cli) -> None:
        """An --app-dir that is not a directory is a usage error."""
        assert cli("check", project.target, "--app-dir", "nope/").code == 2

    def test_env_applies_and_is_restored(self, project, cli, monkeypatch) -> None:
        """--env sets the environment for the command and puts the old one back."""
        monkeypatch.setenv("LIVESETTINGS_ENV", "staging")
        result = cli("check", project.target, "--env", "qa")
        assert "[qa]" in result.out
        assert os.environ["LIVESETTINGS_ENV"] == "staging"
        assert "[staging]" in cli("check", project.target).out


class TestEntry:
    def test_no_command(self, cli) -> None:
        """No command prints the help on stderr and exits 2."""
        result = cli()
        assert result.code == 2 and "check" in result.err

    def test_help_and_version(self, cli) -> None:
        """--help lists every command and exits 0; --version exits 0."""
        result = cli("--help")
        assert result.code == 0
        for command in ("check", "show", "plan", "schema", "diff", "watch", "history", "demo"):
            assert command in result.out
        assert cli("--version").code == 0

    def test_unknown_command(self, cli) -> None:
        """An unknown command is a usage error."""
        assert cli("frobnicate").code == 2

    def test_exit_codes(self) -> None:
        """The exit codes are the documented ones."""
        assert [int(c) for c in ExitCode] == [0, 1, 2, 3]


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestOutput:
    def test_plain_off_a_terminal(self) -> None:
        """Off a terminal a table is one line per row and no escape codes."""
        out = Output(io.StringIO())
        out.table(["A", "B"], [["x", "yy"], ["long", ""]], styles=["red", ""])
        assert out.stream.getvalue() == "x  yy\nlong\n"  # type: ignore[attr-defined]

    def test_table_on_a_terminal(self, monkeypatch) -> None:
        """On a terminal a table has a bold header and aligned, coloured columns."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        out = Output(FakeTty())
        out.table(["A", "B"], [["x", "yy"], ["long", "z"]], styles=["", "red"])
        lines = out.stream.getvalue().splitlines()  # type: ignore[attr-defined]
        assert lines[0] == "\033[1mA     B\033[0m"
        assert lines[1] == "x     \033[31myy\033[0m"

    def test_dumb_terminal(self, monkeypatch) -> None:
        """TERM=dumb turns colour off."""
        monkeypatch.setenv("TERM", "dumb")
        assert not Output(FakeTty()).tty
