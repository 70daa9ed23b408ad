"""Tests for livesettings._parsers: strict, bounded parsing of YAML, TOML, JSON and .env bytes.

Row ids (Y1..Y14, D1..D17) refer to Part 2 of the reliability research catalogue.
"""

from __future__ import annotations

import codecs
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from livesettings import _parsers, _yamlparse
from livesettings._parsers import (
    ParseLimits,
    decode_text,
    locate,
    parse,
    parse_dotenv,
    parse_json,
    parse_toml,
    parse_yaml,
)
from livesettings._yamlparse import YAML_LOADER
from livesettings.exceptions import SourceError, UntrustedSourceError


class _PyStrictLoader(_yamlparse._StrictConstructorMixin, yaml.SafeLoader):
    """The strict constructor on top of the pure-Python loader (what runs without libyaml)."""


@pytest.fixture(params=["default", "pure-python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    """Run a YAML test with the default loader and again with the pure-Python one."""
    if request.param == "pure-python":
        monkeypatch.setattr(_yamlparse, "YAML_LOADER", _PyStrictLoader)
    yield _yamlparse.YAML_LOADER


def _err(exc: pytest.ExceptionInfo[SourceError]) -> tuple[int | None, int | None, str]:
    """Return (line, column, message) of the first detail of a SourceError."""
    detail = exc.value.details[0]
    return detail.line, detail.column, detail.message


def _nested_yaml(depth: int) -> bytes:
    """A flow YAML mapping whose top-level mapping plus the lists under key ``a`` total ``depth`` levels."""
    return ("a: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n").encode()


def _nested_json(depth: int) -> bytes:
    """A JSON object nested ``depth`` levels deep (the top-level object is level 1)."""
    return ('{"a": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}").encode()


def _alias_bomb(levels: int) -> bytes:
    """The 9-wide "billion laughs" document from Y1."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, levels + 1)]
    return ("\n".join(lines) + "\n").encode()


class TestParseLimits:
    def test_defaults(self) -> None:
        """The default limits are 1 MiB, depth 64, 100 aliases and a million expanded nodes."""
        limits = ParseLimits()
        assert (limits.max_bytes, limits.max_depth, limits.max_aliases, limits.max_nodes) == (
            1_048_576, 64, 100, 1_000_000,
        )

    @pytest.mark.parametrize("fmt", ["yaml", "toml", "json", "dotenv"])
    def test_over_size_limit_is_rejected(self, fmt: str) -> None:
        """Y14: input over max_bytes is rejected before parsing, naming both sizes."""
        with pytest.raises(UntrustedSourceError) as exc:
            parse(fmt, b"a = 1\n" + b"#" * 100, "big", ParseLimits(max_bytes=50))
        assert _err(exc)[2] == "file is 106 bytes, over the limit of 50"

    def test_exactly_at_size_limit_is_accepted(self) -> None:
        """A file of exactly max_bytes is still parsed."""
        assert parse_yaml(b"a: 1\n", "c.yaml", ParseLimits(max_bytes=5)) == {"a": 1}


class TestDecodeText:
    def test_utf8_with_bom(self) -> None:
        """Y11/D13: a UTF-8 BOM is accepted and stripped."""
        assert decode_text(codecs.BOM_UTF8 + "é: 1".encode(), "c") == "é: 1"

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
    def test_utf16_and_utf32_with_bom(self, codec: str) -> None:
        """Y11: UTF-16 and UTF-32 are decoded when a BOM says so."""
        bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
               "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}[codec]
        assert decode_text(bom + "a: ü\n".encode(codec), "c") == "a: ü\n"

    def test_invalid_utf8_reports_line_column_and_offset(self) -> None:
        """Y10: a bad byte is reported by 1-based line, character column and byte offset."""
        with pytest.raises(SourceError) as exc:
            decode_text("a: 1\nbé: \xff".encode("latin-1").replace(b"\xe9", "é".encode()), "c.yaml")
        assert _err(exc) == (2, 5, "invalid UTF-8: byte 0xff at byte offset 10 (invalid start byte)")
        assert exc.value.source == "c.yaml"

    def test_truncated_utf16_is_rejected(self) -> None:
        """An odd number of bytes after a UTF-16 BOM is an encoding error, not a crash."""
        with pytest.raises(SourceError, match="invalid UTF-16"):
            decode_text(codecs.BOM_UTF16_LE + b"a\x00b", "c")

    def test_nul_is_rejected(self) -> None:
        """Y10: a NUL character is rejected with its position."""
        with pytest.raises(SourceError) as exc:
            decode_text(b"a: 1\nb: x\x00y\n", "c")
        assert _err(exc)[:2] == (2, 5)
        assert "NUL" in _err(exc)[2]

    def test_utf16_without_bom_is_rejected_as_nul(self) -> None:
        """UTF-16 without a BOM looks like text full of NULs, and the message hints at the BOM."""
        with pytest.raises(SourceError, match="BOM"):
            decode_text("a: 1".encode("utf-16-le"), "c")


@pytest.mark.usefixtures("yaml_loader")
class TestYamlBasics:
    def test_mapping(self) -> None:
        """A plain mapping loads into a dict."""
        expected = {"a": 1, "b": ["x", "y"], "c": {"d": True}}
        assert parse_yaml(b"a: 1\nb: [x, y]\nc: {d: true}\n", "c.yaml") == expected

    @pytest.mark.parametrize("data", [b"", b"  \n\n", b"# a comment\n# more\n", b"~\n", b"null\n", b"---\n"])
    def test_empty_documents_return_none(self, data: bytes) -> None:
        """Y9: empty, comment-only and null documents return None, never {}."""
        assert parse_yaml(data, "c.yaml") is None

    def test_utf8_bom_and_utf16_bom(self) -> None:
        """Y11: UTF-8 and UTF-16 files with a BOM load the same."""
        assert parse_yaml(codecs.BOM_UTF8 + b"a: 1\n", "c.yaml") == {"a": 1}
        assert parse_yaml(codecs.BOM_UTF16_LE + "a: 1\n".encode("utf-16-le"), "c.yaml") == {"a": 1}

    def test_non_utf8_byte(self) -> None:
        """Y10: a non-UTF-8 byte is reported with line and column."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: 1\nb: \xff\xfe\n", "c.yaml")
        assert _err(exc)[:2] == (2, 4)

    def test_control_character(self) -> None:
        """Y10: a control character is a reader error with its position."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: 1\nb: \x07\n", "c.yaml")
        assert _err(exc) == (2, 4, "invalid YAML: unacceptable character #x0007")

    def test_tab_indentation(self) -> None:
        """Y8: a tab used for indentation is rejected at its line and column."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a:\n  b: 1\n\tc: 2\n", "c.yaml")
        assert _err(exc)[:2] == (3, 1)
        assert re.search(r"tab|'\\t'", _err(exc)[2])
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a:\n\tb: 1\n", "c.yaml")
        assert _err(exc)[:2] == (2, 1)

    def test_bad_indentation(self) -> None:
        """A mis-indented key is a syntax error with a location."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a:\n    b: 1\n  c: 2\n", "c.yaml")
        assert _err(exc)[0] == 3

    def test_unclosed_flow_sequence(self) -> None:
        """An unclosed `[` is reported where the parser gave up."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: 1\nb: [1, 2\n", "c.yaml")
        assert _err(exc)[0] == 3
        assert exc.value.source == "c.yaml"

    @pytest.mark.parametrize(("data", "kind"), [(b"- a\n- b\n", "a list"), (b"just a string\n", "a scalar"),
                                                (b"42\n", "a scalar")])
    def test_top_level_must_be_a_mapping(self, data: bytes, kind: str) -> None:
        """Y12: a top-level list or scalar is rejected."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(data, "c.yaml")
        assert _err(exc) == (1, 1, f"the top level must be a mapping, not {kind}")

    def test_top_level_set_is_rejected(self) -> None:
        """A `!!set` at the top level constructs a set, which is not a mapping either."""
        with pytest.raises(SourceError, match="must be a mapping, not set"):
            parse_yaml(b"!!set {a, b}\n", "c.yaml")

    def test_multiple_documents(self) -> None:
        """Y12: a second document is rejected at its `---` line."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: 1\n---\nb: 2\n", "c.yaml")
        line, column, message = _err(exc)
        assert (line, column) == (2, 1)
        assert "single document" in message

    @pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!python/object/apply:os.system",
                                     "!!python/name:os.system"])
    def test_python_tags_are_rejected(self, tag: str) -> None:
        """Y13: `!!python/...` tags fail under the safe constructor."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(f"a: {tag} [echo]\n".encode(), "c.yaml")
        assert _err(exc)[0] == 1
        assert "could not determine a constructor" in _err(exc)[2]

    def test_huge_integer(self) -> None:
        """Y3: a 5000-digit integer is a SourceError at the value, not a ValueError escaping."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: 1\nb: " + b"7" * 5000 + b"\n", "c.yaml")
        assert _err(exc)[:2] == (2, 4)
        assert "4300 digits" in _err(exc)[2]

    def test_4000_digit_integer_loads(self) -> None:
        """Y3: 4000 digits are under CPython's limit and load."""
        assert parse_yaml(b"a: " + b"7" * 4000 + b"\n", "c.yaml") == {"a": int("7" * 4000)}

    @pytest.mark.parametrize(
        ("text", "column", "message"),
        [
            (b"a:\n  b: !!bool :yes\n", 6, "invalid value for !!bool: ':yes'"),
            (b"a:\n  b: !!timestamp soon\n", 6, "invalid value for !!timestamp: 'soon'"),
            (b"a:\n  b: !!map x\n", 6, "expected a mapping node, but found scalar"),
            (b"a:\n  b: !!set x\n", 6, "expected a mapping node, but found scalar"),
        ],
    )
    def test_explicit_tag_on_a_value_it_does_not_fit(self, text: bytes, column: int, message: str) -> None:
        """A standard tag on a value it cannot read is a SourceError at the value, not a bare KeyError.

        Found by the fast-path property test: PyYAML's constructors raise KeyError/AttributeError/
        ValueError here, which used to escape the parser unlocated.
        """
        with pytest.raises(SourceError) as exc:
            parse_yaml(text, "c.yaml")
        assert _err(exc)[:2] == (2, column)
        assert message in _err(exc)[2]


@pytest.mark.usefixtures("yaml_loader")
class TestYamlKeys:
    def test_duplicate_key_reports_second_occurrence(self) -> None:
        """Y7: a duplicate key is rejected at the line and column of the second one."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"port: 80\nhost: x\nport: 8080\n", "c.yaml")
        assert _err(exc) == (3, 1, "invalid YAML: duplicate key 'port' (first defined at line 1)")

    def test_nested_duplicate_key(self) -> None:
        """Y7: duplicates inside nested mappings are found too."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"db:\n  host: a\n  port: 1\n  host: b\n", "c.yaml")
        assert _err(exc)[:2] == (4, 3)

    def test_merge_key_overrides_are_allowed(self) -> None:
        """Y7: `<<` merges still work and explicit keys override merged ones."""
        data = b"base: &b {host: h, port: 1}\nsvc:\n  <<: *b\n  port: 2\n"
        expected = {"base": {"host": "h", "port": 1}, "svc": {"host": "h", "port": 2}}
        assert parse_yaml(data, "c.yaml") == expected

    def test_merge_list_and_chained_merges(self) -> None:
        """A list of merges and a merge of a mapping that itself merges are not false duplicates."""
        data = (b"a: &a {x: 1}\nb: &b {y: 2}\nm: &m\n  <<: [*a, *b]\n  x: 9\n"
                b"top:\n  <<: *m\n  z: 3\n")
        assert parse_yaml(data, "c.yaml") == {
            "a": {"x": 1}, "b": {"y": 2}, "m": {"x": 9, "y": 2}, "top": {"x": 9, "y": 2, "z": 3},
        }

    def test_earlier_merge_source_wins(self) -> None:
        """In `<<: [*a, *b]` a key present in both sources takes the value from the first."""
        data = b"a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n"
        result = parse_yaml(data, "c.yaml")
        assert result is not None
        assert result["c"] == {"x": 1, "y": 2}

    def test_merging_a_scalar_is_rejected(self) -> None:
        """`<<` must point at a mapping or a list of mappings."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"s: &s text\nc:\n  <<: *s\n", "c.yaml")
        assert _err(exc) == (1, 4, "invalid YAML: can only merge mappings, not a scalar")

    def test_merged_mapping_constructed_after_its_merge_is_not_a_duplicate(self) -> None:
        """A mapping flattened by a later merge before its own construction is judged on its own keys."""
        data = b"b0: &b {a: 1}\nx:\n  m: &m {<<: *b, a: 2}\ny: {<<: *m, z: 1}\n"
        result = parse_yaml(data, "c.yaml")
        assert result is not None
        assert result["x"] == {"m": {"a": 2}}

    @pytest.mark.parametrize(("line", "key"), [("1: a", "1"), ("true: b", "true"), ("null: c", "null"),
                                               ("1.5: d", "1.5"), ("2024-01-01: e", "2024-01-01")])
    def test_non_string_keys_are_rejected(self, line: str, key: str) -> None:
        """Y6: keys that YAML resolves to int, bool, null, float or date are rejected."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(f"ok: 0\n{line}\n".encode(), "c.yaml")
        assert _err(exc) == (2, 1, f"invalid YAML: mapping key {key!r} is not a string (quote it)")

    def test_complex_key_is_rejected(self) -> None:
        """A sequence used as a key is not a string key."""
        with pytest.raises(SourceError, match="is not a string"):
            parse_yaml(b"? [a, b]\n: c\n", "c.yaml")

    def test_quoted_keys_are_strings(self) -> None:
        """Y6: quoting makes `1`, `true` and `null` ordinary string keys."""
        expected = {"1": "a", "true": "b", "null": "c"}
        assert parse_yaml(b"'1': a\n\"true\": b\n!!str null: c\n", "c.yaml") == expected


@pytest.mark.usefixtures("yaml_loader")
class TestYamlLimits:
    def test_alias_bomb_n8_is_rejected(self) -> None:
        """Y1: the 9-wide, 8-level alias bomb is rejected by the expanded-size estimate."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(_alias_bomb(8), "bomb.yaml")
        assert _err(exc) == (7, 5, "document expands to more than 1000000 nodes (alias bomb?)")

    def test_small_alias_tree_loads(self) -> None:
        """Y1: 2 levels of the same shape are well within the limits."""
        result = parse_yaml(_alias_bomb(2), "c.yaml")
        assert result is not None
        assert result["a2"][0][0] == ["lol"] * 9

    def test_max_nodes_is_configurable(self) -> None:
        """Y1: a lower max_nodes rejects a smaller expansion."""
        with pytest.raises(SourceError, match="more than 50 nodes"):
            parse_yaml(_alias_bomb(2), "c.yaml", ParseLimits(max_nodes=50))

    def test_alias_count_limit(self) -> None:
        """Y1: 100 alias references are accepted and the 101st is rejected at its line."""
        head = b"x: &x 1\n"
        ok = head + b"".join(f"k{i}: *x\n".encode() for i in range(100))
        result = parse_yaml(ok, "c.yaml")
        assert result is not None and len(result) == 101
        with pytest.raises(SourceError) as exc:
            parse_yaml(ok + b"k100: *x\n", "c.yaml")
        assert _err(exc)[2] == "more than 100 alias references"

    def test_recursive_alias(self) -> None:
        """A node that contains itself is rejected instead of building a cyclic object."""
        with pytest.raises(SourceError) as exc:
            parse_yaml(b"a: &a [1, *a]\n", "c.yaml")
        assert _err(exc) == (1, 4, "recursive alias: a node contains itself")

    def test_depth_64_loads_and_65_is_rejected(self) -> None:
        """Y2: depth 64 (the top-level mapping counts as 1) loads; 65 is rejected at the deepest list."""
        assert parse_yaml(_nested_yaml(64), "c.yaml") is not None
        with pytest.raises(SourceError) as exc:
            parse_yaml(_nested_yaml(65), "c.yaml")
        assert _err(exc) == (1, 67, "nesting deeper than 64 levels")

    def test_depth_through_an_alias(self) -> None:
        """Y2: an alias that places a deep subtree deeper still is caught."""
        data = b"a: &a [[[1]]]\nb: [[*a]]\n"
        assert parse_yaml(data, "c.yaml", ParseLimits(max_depth=6)) is not None
        with pytest.raises(SourceError, match="through an alias"):
            parse_yaml(data, "c.yaml", ParseLimits(max_depth=5))

    def test_block_depth(self) -> None:
        """Y2: block mappings count levels the same way as flow collections."""
        data = b"a:\n  b:\n    c: 1\n"
        assert parse_yaml(data, "c.yaml", ParseLimits(max_depth=3)) == {"a": {"b": {"c": 1}}}
        with pytest.raises(SourceError) as exc:
            parse_yaml(data, "c.yaml", ParseLimits(max_depth=2))
        assert _err(exc)[:2] == (3, 5)

    def test_depth_1001_is_rejected(self) -> None:
        """Y2: depth 1001 fails cleanly (libyaml's own cap or RecursionError), never crashes."""
        with pytest.raises(SourceError):
            parse_yaml(_nested_yaml(1001), "c.yaml", ParseLimits(max_depth=10_000))

    def test_depth_1001_with_default_limits(self) -> None:
        """Y2: depth 1001 with default limits is a SourceError too."""
        with pytest.raises(SourceError):
            parse_yaml(_nested_yaml(1001), "c.yaml")


class TestYamlLoader:
    def test_c_loader_is_used_when_available(self) -> None:
        """Y14: the C loader is the base whenever PyYAML was built with libyaml."""
        if yaml.__with_libyaml__:
            assert issubclass(YAML_LOADER, yaml.CSafeLoader)
        else:  # pragma: no cover - depends on the PyYAML build
            assert issubclass(YAML_LOADER, yaml.SafeLoader)
        assert issubclass(YAML_LOADER, _yamlparse._StrictConstructorMixin)

    def test_only_safe_loading_appears_in_source(self) -> None:
        """Y13: the parser modules never call yaml.load, unsafe_load, full_load or the unsafe loaders."""
        forbidden = r"\b(unsafe_load|full_load|yaml\.load\b|FullLoader|UnsafeLoader|yaml\.Loader\b)"
        for module in (_parsers, _yamlparse):
            source = Path(module.__file__).read_text(encoding="utf-8")
            assert not re.search(forbidden, source), module.__name__


class TestToml:
    def test_document(self) -> None:
        """A TOML document with tables loads into nested dicts."""
        assert parse_toml(b'a = 1\n[db]\nhost = "h"\n', "c.toml") == {"a": 1, "db": {"host": "h"}}

    @pytest.mark.parametrize("data", [b"", b"\n  \n", b"# comment only\n"])
    def test_empty_returns_none(self, data: bytes) -> None:
        """Y9: a TOML file without keys returns None."""
        assert parse_toml(data, "c.toml") is None

    def test_syntax_error_has_line_and_column(self) -> None:
        """A missing value is reported at its line and column, without the '(at line ...)' suffix."""
        with pytest.raises(SourceError) as exc:
            parse_toml(b"a = 1\nb = \n", "c.toml")
        assert _err(exc) == (2, 5, "invalid TOML: Invalid value")

    def test_duplicate_key(self) -> None:
        """TOML itself forbids redefining a key; the second definition is reported."""
        with pytest.raises(SourceError) as exc:
            parse_toml(b"a = 1\na = 2\n", "c.toml")
        assert _err(exc)[0] == 2

    def test_bom(self) -> None:
        """A UTF-8 BOM is accepted."""
        assert parse_toml(codecs.BOM_UTF8 + b"a = 1\n", "c.toml") == {"a": 1}

    def test_depth_64_loads_and_65_is_rejected(self) -> None:
        """Depth is checked on the result; the error names the field and the key's line."""
        assert parse_toml(b"a = " + _nested_yaml(64)[3:], "c.toml") is not None
        with pytest.raises(SourceError) as exc:
            parse_toml(b"x = 1\na = " + _nested_yaml(65)[3:], "c.toml")
        assert _err(exc) == (2, 1, "nesting deeper than 64 levels")
        assert exc.value.field == "a." + ".".join(["0"] * 63)

    def test_huge_integer(self) -> None:
        """Y3: a 5000-digit integer is a SourceError at its line and column, with its key."""
        with pytest.raises(SourceError) as exc:
            parse_toml(b"x = 1\n[db]\ns = '99999'  # 1\na = " + b"7" * 5000 + b"\n", "c.toml")
        assert _err(exc)[:2] == (4, 5)
        assert "4300 digits" in _err(exc)[2] and exc.value.field == "db.a"

    def test_huge_integer_after_strings_and_underscores(self) -> None:
        """Digits inside strings, comments and keys are skipped; underscores count as separators only."""
        text = b'n = "' + b"1" * 5000 + b'"\n# ' + b"2" * 5000 + b"\nm = [1, -" + b"3_3" * 2500 + b"]\n"
        with pytest.raises(SourceError) as exc:
            parse_toml(text, "c.toml")
        assert _err(exc)[:2] == (3, 9)

    def test_very_deep_array(self) -> None:
        """Y2: nesting beyond the recursion limit is a SourceError, not a RecursionError."""
        with pytest.raises(SourceError):
            parse_toml(b"a = " + _nested_yaml(5000)[3:], "c.toml")


class TestJson:
    def test_object(self) -> None:
        """A JSON object loads into a dict."""
        assert parse_json(b'{"a": 1, "b": [true, null]}', "c.json") == {"a": 1, "b": [True, None]}

    def test_empty_returns_none_but_braces_do_not(self) -> None:
        """Y9: no content returns None, while an explicit `{}` is an empty dict."""
        assert parse_json(b"", "c.json") is None
        assert parse_json(b" \n\t\n", "c.json") is None
        assert parse_json(b"{}", "c.json") == {}

    def test_syntax_error_has_line_and_column(self) -> None:
        """A trailing comma is reported at its line and column."""
        with pytest.raises(SourceError) as exc:
            parse_json(b'{\n  "a": [1, 2,]\n}', "c.json")
        assert _err(exc) == (2, 14, "invalid JSON: Expecting value")

    def test_duplicate_key_reports_second_occurrence(self) -> None:
        """Y7 for JSON: a repeated key is rejected at the second key."""
        with pytest.raises(SourceError) as exc:
            parse_json(b'{"db": {"port": 1,\n        "port": 2}}', "c.json")
        assert _err(exc) == (2, 9, "invalid JSON: duplicate key 'port'")
        assert exc.value.field == "db.port"

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_nan_and_infinity_are_rejected(self, constant: str) -> None:
        """Non-standard constants are rejected at their position."""
        with pytest.raises(SourceError) as exc:
            parse_json(f'{{"a": [1,\n {constant}]}}'.encode(), "c.json")
        assert _err(exc) == (2, 2, f"invalid JSON: {constant} is not valid JSON")

    @pytest.mark.parametrize("data", [b"[1, 2]", b'"text"', b"3", b"null"])
    def test_top_level_must_be_an_object(self, data: bytes) -> None:
        """Y12 for JSON: arrays, strings, numbers and null are rejected."""
        with pytest.raises(SourceError, match="top level must be an object"):
            parse_json(data, "c.json")

    def test_depth_64_loads_and_65_is_rejected(self) -> None:
        """Depth is checked iteratively on the result, with a location."""
        assert parse_json(_nested_json(64), "c.json") is not None
        with pytest.raises(SourceError) as exc:
            parse_json(_nested_json(65), "c.json")
        assert _err(exc) == (1, 70, "nesting deeper than 64 levels")

    def test_very_deep_array(self) -> None:
        """Y2: nesting beyond the recursion limit is a SourceError."""
        with pytest.raises(SourceError, match="nesting too deep"):
            parse_json(_nested_json(100_000), "c.json", ParseLimits(max_bytes=10**6))

    def test_huge_integer(self) -> None:
        """Y3: a 5000-digit integer is a SourceError at its line and column, with its path."""
        with pytest.raises(SourceError, match="4300 digits") as exc:
            parse_json(b'{"s": "' + b"9" * 5000 + b'",\n "a": [1,\n  -' + b"7" * 5000 + b"]}", "c.json")
        assert _err(exc)[:2] == (3, 3)
        assert exc.value.field == "a.1"

    def test_bom_and_invalid_utf8(self) -> None:
        """A UTF-8 BOM is fine; a bad byte is located."""
        assert parse_json(codecs.BOM_UTF8 + b'{"a": 1}', "c.json") == {"a": 1}
        with pytest.raises(SourceError) as exc:
            parse_json(b'{"a":\n "\xc3"}', "c.json")
        assert _err(exc)[:2] == (2, 3)


class TestDotenv:
    def test_export_and_plain(self) -> None:
        """D1: `export A=1` and `B=2` both define variables."""
        assert parse_dotenv(b"export A=1\nB=2\n", ".env") == {"A": "1", "B": "2"}

    def test_quotes(self) -> None:
        """D2/D3: double quotes process escapes; single quotes do not."""
        data = b'A="line1\\nline2\\t\\"q\\""\nB=\'no\\nescape\'\n'
        assert parse_dotenv(data, ".env") == {"A": 'line1\nline2\t"q"', "B": "no\\nescape"}

    def test_comments(self) -> None:
        """D4: inline comments after a space are dropped; `#` inside a value or quotes stays."""
        data = b'# header\nA=value # comment\nB=val#ue\nC="v # x"\n'
        assert parse_dotenv(data, ".env") == {"A": "value", "B": "val#ue", "C": "v # x"}

    def test_multiline_double_quoted(self) -> None:
        """D5: a double-quoted value may span lines, and later line numbers stay correct."""
        data = b'A="first\nsecond"\nB=1\nB=2\n'
        with pytest.raises(SourceError) as exc:
            parse_dotenv(data, ".env")
        assert _err(exc)[0] == 4
        assert parse_dotenv(b'A="first\nsecond"\n', ".env") == {"A": "first\nsecond"}

    def test_unclosed_quote_is_an_error_with_line(self) -> None:
        """D6: an unclosed quote rejects the whole file instead of skipping a line."""
        with pytest.raises(SourceError) as exc:
            parse_dotenv(b'A=1\nB="open\nC=3\n', ".env")
        assert _err(exc) == (2, 1, "invalid .env statement: unclosed quote")

    def test_invalid_line_is_an_error_with_line(self) -> None:
        """D6: a line that is not NAME=value rejects the file; blank lines before it are counted."""
        with pytest.raises(SourceError) as exc:
            parse_dotenv(b"A=1\n\n\nthis is not valid\nB=2\n", ".env")
        assert _err(exc) == (4, 1, "invalid .env statement: expected NAME=value")

    def test_duplicate_key(self) -> None:
        """D11: a variable defined twice is rejected at the second definition."""
        with pytest.raises(SourceError) as exc:
            parse_dotenv(b"A=1\nB=2\nexport A=3\n", ".env")
        assert _err(exc) == (3, 8, "duplicate variable 'A' (first defined at line 1)")
        assert exc.value.field == "A"

    def test_no_equals_and_empty_value(self) -> None:
        """D12: `A` alone maps to None and `B=` to an empty string."""
        assert parse_dotenv(b"A\nB=\n", ".env") == {"A": None, "B": ""}

    def test_interpolation_on_and_off(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """D3/D7/D8: `${X}` expands by default, defaults apply, and interpolate=False keeps text verbatim."""
        monkeypatch.delenv("LS_MISSING", raising=False)
        data = b"A=1\nB=${A}-x\nC=$A-y\nD=${LS_MISSING:-fb}\nE='${A}'\n"
        assert parse_dotenv(data, ".env") == {"A": "1", "B": "1-x", "C": "$A-y", "D": "fb", "E": "1"}
        assert parse_dotenv(data, ".env", interpolate=False) == {
            "A": "1", "B": "${A}-x", "C": "$A-y", "D": "${LS_MISSING:-fb}", "E": "${A}",
        }

    def test_crlf_bom_and_non_ascii(self) -> None:
        """D13: CRLF line ends, a BOM and non-ASCII text are fine."""
        data = codecs.BOM_UTF8 + "A=1\r\nB=grüße\r\n".encode()
        assert parse_dotenv(data, ".env") == {"A": "1", "B": "grüße"}

    def test_crlf_line_numbers(self) -> None:
        """D13: errors after CRLF lines are reported on the right line."""
        with pytest.raises(SourceError) as exc:
            parse_dotenv(b"A=1\r\n\r\nnot valid\r\n", ".env")
        assert _err(exc)[0] == 3

    def test_invalid_utf8(self) -> None:
        """D14: invalid UTF-8 is a SourceError with a location."""
        with pytest.raises(SourceError) as exc:
            parse_dotenv(b"A=1\nB=\xff\n", ".env")
        assert _err(exc)[:2] == (2, 3)

    @pytest.mark.parametrize("data", [b"", b"\n\n", b"# only\n  # comments\n"])
    def test_empty_returns_none(self, data: bytes) -> None:
        """Y9 for .env: no variables returns None."""
        assert parse_dotenv(data, ".env") is None

    def test_nothing_is_logged_and_logger_state_is_restored(self, caplog: pytest.LogCaptureFixture) -> None:
        """The dotenv.main logger is left exactly as it was and no warning leaks from a valid parse."""
        logger = logging.getLogger("dotenv.main")
        logger.setLevel(logging.ERROR)
        try:
            with caplog.at_level(logging.DEBUG, logger="dotenv"):
                logger.setLevel(logging.ERROR)
                assert parse_dotenv(b"A=1\n", ".env") == {"A": "1"}
            assert logger.level == logging.ERROR
            assert not logger.filters
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        finally:
            logger.setLevel(logging.NOTSET)

    def test_captured_dotenv_warning_becomes_error(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """D6 backstop: if python-dotenv logs a skipped statement, it is captured as an error, not logged."""
        monkeypatch.setattr(_parsers, "_bindings", lambda _text: iter([("A", 1, "A=1", False)]))
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(SourceError) as exc:
                parse_dotenv(b"A=1\n\nnot valid\n", ".env")
        assert _err(exc) == (2, None, "invalid .env statement")
        assert not [r for r in caplog.records if r.name == "dotenv.main"]
        assert not logging.getLogger("dotenv.main").filters

    def test_concurrent_parses_do_not_see_each_others_errors(self) -> None:
        """Good and bad files parsed at the same time in threads get their own results."""
        results: dict[str, Any] = {}

        def run(name: str, data: bytes) -> None:
            for _ in range(50):
                try:
                    results[name] = parse_dotenv(data, name)
                except SourceError as exc:
                    results[name] = exc.line

        threads = [threading.Thread(target=run, args=("good", b"A=1\n")),
                   threading.Thread(target=run, args=("bad", b"A=1\nB='x\n"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"good": {"A": "1"}, "bad": 2}


class TestParseDispatch:
    def test_dispatch_by_format(self) -> None:
        """parse() routes to the right parser and passes keyword options through."""
        assert parse("json", b'{"a": 1}', "c.json") == {"a": 1}
        assert parse("yaml", b"a: 1", "c.yaml") == {"a": 1}
        assert parse("toml", b"a = 1", "c.toml") == {"a": 1}
        assert parse("dotenv", b"A=1\nB=${A}", ".env", interpolate=False) == {"A": "1", "B": "${A}"}

    def test_unknown_format(self) -> None:
        """An unknown format is a programming error (ValueError), not a SourceError."""
        with pytest.raises(ValueError, match="unknown config format 'ini'") as exc:
            parse("ini", b"", "c.ini")
        assert not isinstance(exc.value, SourceError)


class TestLocate:
    YAML = b"a:\n  b:\n    - 1\n    - c: true\n      d: [x, y]\nport: 80\n"

    @pytest.mark.parametrize(("path", "where"), [
        (["port"], (6, 7)),
        (["a", "b", 0], (3, 7)),
        (["a", "b", 1, "c"], (4, 10)),
        (["a", "b", 1, "d"], (5, 10)),
        (["a", "b", 1, "d", 1], (5, 14)),
        (["a", "b"], (2, 3)),
        (["a"], (1, 1)),
        (["a", "missing"], None),
        (["a", "b", 7], None),
        (["port", "x"], None),
    ])
    def test_yaml(self, path: list[str | int], where: tuple[int, int] | None) -> None:
        """YAML: scalars point at the value, block collections at their key, missing paths give None."""
        assert locate("yaml", self.YAML, path) == where

    def test_yaml_through_merge(self) -> None:
        """YAML: a key that only exists through `<<` is found in the merged mapping."""
        data = b"base: &b\n  host: h\nsvc:\n  <<: *b\n  port: 1\n"
        assert locate("yaml", data, ["svc", "host"]) == (2, 9)
        assert locate("yaml", data, ["svc", "port"]) == (5, 9)

    JSON = b'{\n  "a": {"b": [1, {"c": true}]},\n  "d": "x",\n  "e": [],\n  "f": [{"g": 1}, [2], 3]\n}'

    @pytest.mark.parametrize(("path", "where"), [
        (["d"], (3, 8)),
        (["a", "b", 1, "c"], (2, 24)),
        (["a", "b", 0], (2, 15)),
        (["a", "b"], (2, 9)),
        (["a"], (2, 3)),
        (["e"], (4, 3)),
        (["e", 0], None),
        (["f", 0, "g"], (5, 15)),
        (["f", 1], (5, 19)),
        (["f", 2], (5, 24)),
        (["zzz"], None),
    ])
    def test_json(self, path: list[str | int], where: tuple[int, int] | None) -> None:
        """JSON: scalars point at the value, containers at their key."""
        assert locate("json", self.JSON, path) == where

    TOML = (b'title = "t"\n[db]\nhost = "h"\nports = [1, 2]\nopts = { a = 1 }\nx.y = 2\n'
            b'[[srv]]\nname = "a"\n[[srv]]\nname = "b"\n  port = 9\ns = """\nfake = 1\n"""\n')

    @pytest.mark.parametrize(("path", "where"), [
        (["title"], (1, 1)),
        (["db"], (2, 1)),
        (["db", "host"], (3, 1)),
        (["db", "ports", 1], (4, 1)),
        (["db", "opts", "a"], (5, 1)),
        (["db", "x", "y"], (6, 1)),
        (["srv", 1, "port"], (11, 3)),
        (["srv", 0, "name"], (8, 1)),
        (["srv", 1, "fake"], (9, 1)),
        (["nope"], None),
    ])
    def test_toml(self, path: list[str | int], where: tuple[int, int] | None) -> None:
        """TOML: keys, dotted keys, headers and arrays of tables; inner paths fall back to the closest key."""
        assert locate("toml", self.TOML, path) == where

    def test_dotenv(self) -> None:
        """dotenv: the line (and column) where the variable is defined."""
        data = b"# c\n\nA=1\nexport B=\"x\ny\"\nC=3\n"
        assert locate("dotenv", data, ["A"]) == (3, 1)
        assert locate("dotenv", data, ["B"]) == (4, 8)
        assert locate("dotenv", data, ["C"]) == (6, 1)
        assert locate("dotenv", data, ["D"]) is None
        assert locate("dotenv", data, ["A", "x"]) is None

    @pytest.mark.parametrize("fmt", ["yaml", "toml", "json", "dotenv", "ini"])
    def test_never_raises(self, fmt: str) -> None:
        """Broken input and unknown formats never raise; undecodable bytes and empty input give None."""
        for data in (b'{"a": [1, ', b"a: [1\n", b"[[[", b"a = [1,", b"A='x"):
            result = locate(fmt, data, ["a", 0])
            assert result is None or (isinstance(result, tuple) and len(result) == 2)
        assert locate(fmt, b"a: \xff\xfe\x00", ["a"]) is None
        assert locate(fmt, b"", ["a"]) is None
