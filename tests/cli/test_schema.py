"""``livesettings schema``: the JSON Schema editors use, checked with the ``jsonschema`` package."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from cliutil import CONFIG, cli, project  # noqa: F401 - fixtures


@pytest.fixture
def schema(project, cli) -> dict:
    result = cli("schema", project.target)
    assert result.code == 0, result.err
    return json.loads(result.out)


class TestSchema:
    def test_draft_and_title(self, schema) -> None:
        """The schema names its draft and the settings class, and lists the top-level fields."""
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] == "AppSettings"
        assert set(schema["properties"]) == {"region", "logging", "database"}
        jsonschema.Draft202012Validator.check_schema(schema)

    def test_good_yaml_validates(self, schema, project) -> None:
        """The project's own config file is valid against the schema."""
        jsonschema.validate(yaml.safe_load(CONFIG), schema, cls=jsonschema.Draft202012Validator)

    def test_bad_yaml_fails(self, schema) -> None:
        """A wrong type, a value outside a Literal and a missing required field are all reported."""
        bad = yaml.safe_load("logging:\n  level: LOUD\ndatabase:\n  pool_size: twenty\n")
        validator = jsonschema.Draft202012Validator(schema)
        errors = {tuple(e.absolute_path): e.validator for e in validator.iter_errors(bad)}
        assert errors[("logging", "level")] == "enum"
        assert errors[("database", "pool_size")] == "type"
        assert errors[("database",)] == "required"

    def test_output_file(self, project, cli, schema) -> None:
        """--output writes the same schema to a file and keeps standard output empty."""
        result = cli("schema", project.target, "--output", "schema.json")
        assert result.code == 0 and result.out == ""
        assert json.loads((project.root / "schema.json").read_text()) == schema

    def test_json_flag_accepted(self, project, cli, schema) -> None:
        """--json is accepted and prints the same document."""
        assert json.loads(cli("schema", project.target, "--json").out) == schema

    def test_unwritable_output(self, project, cli) -> None:
        """An --output that cannot be written is a usage error."""
        result = cli("schema", project.target, "--output", "no/such/dir/schema.json")
        assert result.code == 2 and "--output" in result.err


class TestSecretDefaults:
    def test_secret_defaults_left_out(self, project, cli) -> None:
        """A plain-str default under a credential name and a URL password in a default are not printed."""
        result = cli("schema", project.spec("TokenSettings"))
        assert result.code == 0
        assert "planted-default-token-77" not in result.out and "planted-url-pw-88" not in result.out
        data = json.loads(result.out)
        assert "default" not in data["properties"]["api_token"]
        assert data["properties"]["dsn"]["default"].startswith("postgresql://app:<secret fp=")
        assert data["properties"]["port"]["default"] == 8080
