"""The YAML fast path gives the strict loader's results and errors, document for document.

``parse_yaml``/``parse_yaml_value`` build ordinary documents from libyaml's events and hand everything else to
the strict loader (``_parse_yaml_strict``/``_parse_yaml_value_strict``, the parser as it was). Hypothesis writes
YAML text (block and flow nesting, every implicit scalar type with its edge cases, quoted, block and multi-line
strings, keys that are not strings or repeat, anchors, aliases, merge keys, tags, several documents) and
breaks some of it; both paths must return equal values of equal types or raise the same error (type, message,
source, line, column, field).
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from livesettings import _yamlparse
from livesettings._parsebase import _LIMITS, ParseLimits
from livesettings._yamlparse import _FALLBACK, _fast_yaml
from livesettings.exceptions import SourceError

# FASTYAML_EXAMPLES=4000 for a deeper search by hand (4000 each found nothing more on 2026-12-03)
SETTINGS = settings(max_examples=int(os.environ.get("FASTYAML_EXAMPLES", "200")), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------ strategies

INTS = ["0", "-0", "+5", "42", "-17", "1_000", "1__0", "0x1F", "0x_1f", "-0xA", "017", "0o17", "0b101", "-0b1_1",
        "0b_", "08", "190:20:30", "-1:30", "007", "9" * 30, "1" * 5000]
FLOATS = ["1.5", "-0.0", "+2.5", "6.", ".5", "1.0e+5", "1.0E-3", "1e5", "1.5e3", "1_000.5", "190:20:30.15",
          ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "._5", "1._", "0.1" + "0" * 30 + "1"]
BOOLS = ["yes", "No", "YES", "no", "true", "True", "FALSE", "on", "Off", "OFF", "y", "n", "Y", "tRue"]
NULLS = ["~", "null", "Null", "NULL", "", "nULL"]
OTHERS = ["2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2002-1-1",
          "=", "<<", "<", "value-1", "https://example.com:8443/a?b=c", "a b c", "x#y", "-", "--x", "-1-2",
          "_", "é", "日本", "0.1.2", "1:2:3:x", "+", ".", "@x", "`x"]
PLAIN_WORD = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_.-]{0,6}", fullmatch=True)
KEY = PLAIN_WORD.filter(lambda k: k.lower() not in {"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
plain = st.one_of(st.sampled_from(INTS + FLOATS + BOOLS + NULLS + OTHERS), PLAIN_WORD,
                  st.integers().map(str), st.floats(allow_nan=False).map(repr))

_QUOTE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8)


def _single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _double(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_QUOTABLE = st.one_of(st.sampled_from(INTS + FLOATS + BOOLS + NULLS), _QUOTE_TEXT)
quoted = st.one_of(
    st.builds(_single, _QUOTABLE), st.builds(_double, _QUOTABLE), st.builds(_single, _QUOTABLE),
    st.builds(_double, _QUOTABLE),
    st.sampled_from(['"a\\tb\\n"', '"\\u00e9\\x41"', '"\\q"', "'it''s'", '"line\n  folded"', "'un", '"un']),
)
tagged = st.sampled_from(["!!str 5", "!!int '7'", "!!float 1", "!!bool yes", "!!null ''", "!custom x", "! 5",
                          "!!binary aGk=", "!!timestamp 2001-12-14", "!<tag:yaml.org,2002:str> z", "!!int x"])
scalar = st.one_of(plain, plain, plain, quoted, quoted, tagged)
odd_key = st.sampled_from(["1", "true", "~", "null", "'1'", '"yes"', "=", "<<", "'a b'", "2001-12-14", "1.5", '""',
                           "!!str k", "? [a]", "&k k", "*k"])
@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> Any:
    """A tree of ("map", [(key, child)]) / ("seq", [child]) / ("scalar", text) / ("block", style, lines)."""
    choice = draw(st.integers(0, 9 if depth < 4 else 3))
    if choice <= 2:
        return ("scalar", draw(scalar))
    if choice == 3:
        lines = draw(st.lists(st.from_regex(r"[a-z #:'\-]{0,6}", fullmatch=True), min_size=1, max_size=3))
        return ("block", draw(st.sampled_from(["|", ">", "|-", ">+", "|2"])), lines)
    children = draw(st.lists(trees(depth + 1), max_size=4))
    if choice <= 6:
        keys = draw(st.lists(KEY, min_size=len(children), max_size=len(children), unique=True))
        if keys and draw(st.integers(0, 19)) == 13:  # now and then a key that is not a plain string, or repeats
            keys[draw(st.integers(0, len(keys) - 1))] = draw(st.one_of(odd_key, st.sampled_from(keys)))
        return ("map", list(zip(keys, children)))
    return ("seq", children)


def _flowable(tree: Any) -> bool:
    kind = tree[0]
    if kind == "block":
        return False
    if kind == "scalar":
        return not any(c in tree[1] for c in ",[]{}\n#") and not tree[1].startswith(("'un", '"un'))
    items = [c for _, c in tree[1]] if kind == "map" else tree[1]
    keys_ok = kind == "seq" or all(not any(c in k for c in ",[]{}?") for k, _ in tree[1])
    return keys_ok and all(_flowable(c) for c in items)


def flow(tree: Any) -> str:
    kind = tree[0]
    if kind == "scalar":
        return str(tree[1])
    if kind == "map":
        return "{" + ", ".join(f"{k}: {flow(c)}" for k, c in tree[1]) + "}"
    return "[" + ", ".join(flow(c) for c in tree[1]) + "]"


def block(tree: Any, indent: int, use_flow: bool) -> list[str]:
    """Lines rendering a container in block style at ``indent``; a scalar child goes on its key's line."""
    pad = " " * indent
    lines: list[str] = []
    kind, items = tree[0], tree[1]
    pairs = items if kind == "map" else [(None, c) for c in items]
    for k, child in pairs:
        head = f"{pad}{k}:" if kind == "map" else f"{pad}-"
        ckind = child[0]
        if ckind == "scalar":
            lines.append(f"{head} {child[1]}".rstrip() if child[1] else head)
        elif ckind == "block":
            lines.append(f"{head} {child[1]}")
            lines.extend(f"{pad}  {line}".rstrip() for line in child[2])
        elif not child[1] or (use_flow and _flowable(child)):
            lines.append(f"{head} {flow(child)}")
        else:
            lines.append(head)
            lines.extend(block(child, indent + 2, use_flow))
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A YAML document: a top-level mapping most of the time, sometimes a list or a scalar, with extras."""
    top = draw(trees()) if draw(st.integers(0, 4)) == 3 else ("map", draw(trees(depth=1).filter(lambda t: t[0] == "map"))[1])
    use_flow = draw(st.booleans())
    if top[0] in ("map", "seq") and top[1]:
        text = "\n".join(block(top, 0, use_flow)) + "\n"
    elif top[0] == "block":
        text = f"{top[1]}\n" + "".join(f"  {line}\n" for line in top[2])
    else:
        text = flow(top) + "\n"
    extra = draw(st.sampled_from([None] * 12 + ["anchor", "merge", "docs", "directive", "comment", "start"]))
    if extra == "anchor":
        text = "base: &b {x: 1, y: [2, 3]}\ncopy: *b\n" + text
    elif extra == "merge":
        text = "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n" + text
    elif extra == "docs":
        text += "---\nsecond: 1\n"
    elif extra == "directive":
        text = "%YAML 1.1\n---\n" + text
    elif extra == "comment":
        text = "# a comment\n" + text.replace("\n", "  # trailing\n", 1)
    elif extra == "start":
        text = "---\n" + text + "...\n"
    return text


@st.composite
def broken(draw: st.DrawFn) -> str:
    """A document with a few characters inserted, deleted or replaced (mostly invalid YAML)."""
    text = draw(documents())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(list(":-[]{},'\"\t &*!|>%@`#?\n ") + ["\x07", "\ufeff", "  "]))
        if op == "insert":
            text = text[:at] + char + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text


# --------------------------------------------------------------------------------------------- compare


def canon(value: Any) -> Any:
    """A comparable form keeping types and order (bool is not int; -0.0 is not 0.0; NaN equals NaN)."""
    if isinstance(value, dict):
        return ("dict", [(canon(k), canon(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [canon(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


def outcome(parse: Any, data: bytes, limits: ParseLimits = _LIMITS) -> Any:
    """The canonical result, or the error as (type, message, per-detail attributes)."""
    try:
        return ("ok", canon(parse(data, "app.yaml", limits)))
    except SourceError as exc:
        details = [(d.message, d.source, d.line, d.column, d.field) for d in exc.details]
        return ("error", type(exc).__name__, str(exc), details, exc.source, exc.line, exc.column)


def assert_same(text: str, limits: ParseLimits = _LIMITS) -> None:
    """Both entry points agree with their strict reference on ``text``."""
    data = text.encode()
    assert outcome(_yamlparse.parse_yaml, data, limits) == outcome(_yamlparse._parse_yaml_strict, data, limits)
    assert outcome(_yamlparse.parse_yaml_value, data, limits) == outcome(
        _yamlparse._parse_yaml_value_strict, data, limits
    )


# ------------------------------------------------------------------------------------------------ tests


class TestSameAsStrictLoader:
    """Generated documents parse to the same values, or fail with the same errors, on both paths."""

    @SETTINGS
    @given(documents())
    @example("a: 1_000\nb: 0x1F\nc: .inf\nd: ~\ne: yes\nf: no\ng: '1'\nh: 017\ni: 190:20:30\n")
    @example("a: 2001-12-14\n")
    @example("a: 1\na: 2\n")
    @example("1: a\n")
    @example("a: &x 1\nb: *x\n")
    @example("a: !!str 1\n")
    @example("a: [1, 2\n")
    @example("- 1\n- 2\n")
    @example("just a scalar\n")
    @example("a: 1\n---\nb: 2\n")
    @example("a: " + "1" * 5000 + "\n")
    @example("a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\nc: plain\n  continued\n")
    @example("")
    @example("# only a comment\n")
    @example("~\n")
    @example("---\n")
    def test_documents(self, text: str) -> None:
        """A well-formed (or nearly) document: same result or same error."""
        assert_same(text)

    @SETTINGS
    @given(broken())
    @example("A:\n  A: !!bool :yes\n")  # PyYAML raised a bare KeyError here (now a located error)
    def test_broken_documents(self, text: str) -> None:
        """A document with characters inserted, deleted or replaced: same result or same error."""
        assert_same(text)

    @settings(max_examples=100, deadline=None, database=None)
    @given(documents(), st.integers(1, 6), st.integers(1, 60))
    def test_limits(self, text: str, max_depth: int, max_nodes: int) -> None:
        """With small depth and node limits, the same documents pass or fail the same way."""
        assert_same(text, ParseLimits(max_depth=max_depth, max_nodes=max_nodes))


class TestFastPathTaken:
    """The fast path handles ordinary documents itself, so the comparison above is not vacuous."""

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.recursive(
        st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(), st.text(max_size=10)),
        lambda children: st.one_of(st.lists(children, max_size=3),
                                   st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=3)),
        max_leaves=15,
    ).map(lambda tree: {"root": tree}))
    def test_dumped_configs_take_the_fast_path(self, tree: dict[str, Any]) -> None:
        """What ``yaml.safe_dump`` writes for plain data (no dates, no aliases) is built without the fallback."""
        import yaml

        text = yaml.safe_dump(tree, allow_unicode=True)
        fast = _fast_yaml(text, _LIMITS, mapping=True)
        assert fast is not _FALLBACK, text
        assert canon(fast) == canon(_yamlparse._parse_yaml_strict(text.encode(), "app.yaml"))

    @pytest.mark.parametrize(
        "text",
        [
            "a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: text\ng: [1, 'x', {h: null}]\n",
            "a: 1_000\nb: 0x1F\nc: .inf\nd: -.Inf\ne: 017\nf: 0b11\ng: 1:30\nh: 1_0.5\ni: Off\nj: ''\n",
            "quoted: '!not a tag & not an anchor'\ncron: '*/5 * * * *'\n",
            "multi: |\n  one\n  two\nfolded: >\n  a\n  b\n",
        ],
    )
    def test_ordinary_documents_take_the_fast_path(self, text: str) -> None:
        """Every implicit int, float, bool and null form, quoted text with ``!``/``&``/``*`` and block scalars."""
        fast = _fast_yaml(text, _LIMITS, mapping=True)
        assert fast is not _FALLBACK
        assert canon(fast) == canon(_yamlparse._parse_yaml_strict(text.encode(), "app.yaml"))

    @pytest.mark.parametrize(
        "text",
        [
            "a: &x 1\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: 2001-12-14\n", "<<: {a: 1}\n", "a: =\n",
            "a: 1\na: 2\n", "1: a\n", "? [a]\n: b\n", "a: 1\n---\nb: 2\n", "%YAML 1.1\n---\na: 1\n",
            "- 1\n", "scalar\n", "a: [1\n", "a: " + "1" * 5000 + "\n",
        ],
    )
    def test_unusual_documents_fall_back(self, text: str) -> None:
        """Anchors, aliases, tags, timestamps, merge and value keys, duplicate or non-string keys, several
        documents, directives, a non-mapping top level, syntax errors and huge ints go to the strict loader."""
        assert _fast_yaml(text, _LIMITS, mapping=True) is _FALLBACK

    def test_depth_and_node_limits_fall_back(self) -> None:
        """A document past ``max_depth`` or ``max_nodes`` goes to the strict loader, which reports it."""
        text = "a: {b: {c: 1}}\n"
        assert _fast_yaml(text, ParseLimits(max_depth=3), mapping=True) is not _FALLBACK
        assert _fast_yaml(text, ParseLimits(max_depth=2), mapping=True) is _FALLBACK
        assert _fast_yaml(text, ParseLimits(max_nodes=7), mapping=True) is not _FALLBACK
        assert _fast_yaml(text, ParseLimits(max_nodes=6), mapping=True) is _FALLBACK

    def test_a_repeated_key_is_one_string(self) -> None:
        """The same key in two sections, and in the next parse, is one str object (the parse stays cached)."""
        text = "a:\n  port: 1\nb:\n  port: 2\n"
        first = _fast_yaml(text, _LIMITS, mapping=True)
        again = _fast_yaml(text.replace("2", "3"), _LIMITS, mapping=True)
        keys = [next(iter(first["a"])), next(iter(first["b"])), next(iter(again["a"]))]
        assert keys == ["port"] * 3 and keys[0] is keys[1] is keys[2]
        assert again == {"a": {"port": 1}, "b": {"port": 3}}

    def test_a_swapped_loader_is_respected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With another ``YAML_LOADER`` in place (the pure-Python one in the parser tests) every document uses it."""
        import yaml

        class PyStrict(_yamlparse._StrictConstructorMixin, yaml.SafeLoader):
            pass

        monkeypatch.setattr(_yamlparse, "YAML_LOADER", PyStrict)
        assert _fast_yaml("a: 1\n", _LIMITS, mapping=True) is _FALLBACK


# ---------------------------------------------------------------------------------- edits of a document

_EDIT_TOKENS = ["---", "...", "\n", "x: 1\n", "k0: 2\n", "  ", "[", "{", '"', "'", "|", ">", "- ", "? ", "&a ", "*a",
                "!!str ", "#", ": ", "\r\n", "\r", "\x85", "\u2028", "\t", "7", "-1", "yes", "~", "é", "\ufeff"]


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    """A document and an edit of it: a few insertions, deletions or replacements, mostly close together
    (one value changed, a line added or removed), sometimes far apart."""
    text = draw(documents())
    new = text
    near = draw(st.integers(0, len(text)))
    for _ in range(draw(st.integers(1, 3))):
        at = near if draw(st.booleans()) else draw(st.integers(0, len(new)))
        at = min(at, len(new))
        op = draw(st.sampled_from(["insert", "delete", "replace", "line"]))
        token = draw(st.sampled_from(_EDIT_TOKENS + [draw(scalar)]))
        if op == "insert":
            new = new[:at] + token + new[at:]
        elif op == "delete":
            new = new[:at] + new[at + draw(st.integers(1, 4)):]
        elif op == "replace":
            new = new[:at] + token + new[at + len(token):]
        else:  # drop or duplicate the line at ``at``
            start = new.rfind("\n", 0, at) + 1
            stop = new.find("\n", at) + 1 or len(new)
            new = new[:start] + (new[start:stop] * 2 if draw(st.booleans()) else "") + new[stop:]
    return text, new


class TestEditedDocuments:
    """An edit parses as the whole new text parses, whether only its changed entry is parsed (``_Layout``) or not."""

    @SETTINGS
    @given(edits())
    @example(("a: 1\nb:\n  x: 1\n  y: [1, 2]\nc: z\n", "a: 1\nb:\n  x: 22\n  y: [1, 2]\nc: z\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\n...\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: [2,\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: \"2\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\n b: 2\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nc: 2\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\nd: 4\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: &x 2\nc: 3\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: *x\nc: 3\n"))
    @example(("a: 1\nb: |\n  t\nc: 3\n", "a: 1\nb: |\n  t\n  u\nc: 3\n"))
    @example(("a: 1\r\nb: 2\r\nc: 3\r\n", "a: 1\r\nb: 22\r\nc: 3\r\n"))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\x85...\nc: 3\n"))
    @example(("é: 1\nb: ü\nc: 3\n", "é: 1\nb: üü\nc: 3\n"))
    def test_an_edit_parses_as_the_whole_text(self, pair: tuple[str, str]) -> None:
        old, new = pair
        layouts: dict[str, Any] = {}
        try:
            _yamlparse.parse_yaml(old.encode(), "app.yaml", layouts=layouts)  # records the layout an edit may patch
        except SourceError:
            pass

        def patched(data: bytes, source: str, limits: ParseLimits) -> Any:
            return _yamlparse.parse_yaml(data, source, limits, layouts=layouts)

        assert outcome(patched, new.encode()) == outcome(_yamlparse._parse_yaml_strict, new.encode())

    def test_a_one_value_edit_parses_only_its_entry(self) -> None:
        """The unchanged entries of an edited document are the very objects parsed before (shared)."""
        layouts: dict[str, Any] = {}
        before = _yamlparse.parse_yaml(b"a: {x: 1}\nb:\n  y: [1, 2]\nc: {z: 3}\n", "app.yaml", layouts=layouts)
        after = _yamlparse.parse_yaml(b"a: {x: 1}\nb:\n  y: [1, 5]\nc: {z: 3}\n", "app.yaml", layouts=layouts)
        assert before is not None and after is not None
        assert after == {"a": {"x": 1}, "b": {"y": [1, 5]}, "c": {"z": 3}}
        assert after["a"] is before["a"] and after["c"] is before["c"] and after["b"] is not before["b"]
        assert list(after) == ["a", "b", "c"]


class TestValueShortcuts:
    """``parse_yaml_value`` (an etcd key's value): one plain word skips libyaml, and bytes parsed before to an
    immutable scalar give it again; both agree with the strict loader, the first time and the next."""

    WORDS = INTS + FLOATS + BOOLS + NULLS + OTHERS + ["---", "...", "--- x", "-- x", "-.5", "+.inf", "a-b", "_x",
                                                      "x.y", "- x", "? x", "x: 1", "'5'", "!!str 5", "&a 5", "*a"]

    @pytest.mark.parametrize("text", WORDS)
    def test_words_match_the_strict_loader_twice(self, text: str) -> None:
        """Every implicit scalar form and near-miss: same result or error, uncached and then cached."""
        for _ in range(2):
            data = text.encode()
            assert outcome(_yamlparse.parse_yaml_value, data) == outcome(_yamlparse._parse_yaml_value_strict, data)

    @SETTINGS
    @given(st.one_of(plain, PLAIN_WORD, quoted))
    def test_generated_values_match_twice(self, text: str) -> None:
        for _ in range(2):
            data = text.encode()
            assert outcome(_yamlparse.parse_yaml_value, data) == outcome(_yamlparse._parse_yaml_value_strict, data)

    @pytest.mark.parametrize("text", ["5", "-17", "+.inf", "true", "web-1", "1_000", "0x1F", "_", "null"])
    def test_plain_words_skip_libyaml(self, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """A plain word never reaches libyaml (so the shortcut above is not vacuous)."""
        monkeypatch.setattr(_yamlparse, "_VALUES", {})
        monkeypatch.setattr(_yamlparse, "_fast_yaml", lambda *a, **k: pytest.fail("libyaml ran"))
        assert canon(_yamlparse.parse_yaml_value(text.encode(), "k")) == canon(
            _yamlparse._parse_yaml_value_strict(text.encode(), "k"))

    def test_cached_values_skip_parsing_and_keep_the_limits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A value seen before is not parsed again, but a smaller ``max_bytes`` still rejects it."""
        monkeypatch.setattr(_yamlparse, "_VALUES", {})
        data = b"'quoted text'"
        assert _yamlparse.parse_yaml_value(data, "k") == "quoted text"
        monkeypatch.setattr(_yamlparse, "_fast_yaml", lambda *a, **k: pytest.fail("parsed again"))
        assert _yamlparse.parse_yaml_value(data, "k") == "quoted text"
        tight = ParseLimits(max_bytes=4)
        assert outcome(_yamlparse.parse_yaml_value, data, tight) == outcome(
            _yamlparse._parse_yaml_value_strict, data, tight)

    def test_containers_are_not_cached(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A list or mapping is built anew each time (a caller may keep or change it)."""
        monkeypatch.setattr(_yamlparse, "_VALUES", {})
        first, second = (_yamlparse.parse_yaml_value(b"[1, 2]", "k") for _ in range(2))
        assert first == second == [1, 2] and first is not second
        assert _yamlparse._VALUES == {}

    def test_a_swapped_loader_takes_every_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With another ``YAML_LOADER`` in place neither shortcut is used."""
        import yaml

        seen: list[str] = []

        class PyStrict(_yamlparse._StrictConstructorMixin, yaml.SafeLoader):
            def __init__(self, stream: str) -> None:
                seen.append(stream)
                super().__init__(stream)

        monkeypatch.setattr(_yamlparse, "YAML_LOADER", PyStrict)
        _yamlparse.parse_yaml_value(b"5", "k")
        _yamlparse.parse_yaml_value(b"5", "k")
        assert seen == ["5", "5"]


# ----------------------------------------------------------------------------- packed layouts (big documents)


def _layout_of(text: str, pack_from: int, block: int) -> Any:
    """The layout ``parse_yaml`` keeps of ``text`` with ``PACK_FROM``/``_BLOCK`` set as given (``None`` if none)."""
    layouts: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_yamlparse, "PACK_FROM", pack_from)
        mp.setattr(_yamlparse, "_BLOCK", block)
        try:
            _yamlparse.parse_yaml(text.encode(), "app.yaml", layouts=layouts)
        except SourceError:
            pass
    return layouts.get("app.yaml")


def _decision(layout: Any, new: str) -> Any:
    patched = layout.patch(new, new.encode())
    return None if patched is None else (canon(patched.result), patched.entries)


class TestPackedLayouts:
    """A document of ``PACK_FROM`` bytes or more keeps digests and zlib copies of blocks of entries, not its
    bytes; an edit of it is patched (or not) exactly as with the bytes kept, and gives what a full parse gives."""

    @SETTINGS
    @given(edits(), st.sampled_from([0, 1, 16, 64]))
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 22\nc: 3\n"), 0)
    @example(("# head\na: 1\nb: 2\nc: 3\n", "# head!\na: 1\nb: 2\nc: 3\n"), 0)
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\nc: 3\nd: 4\n"), 1)
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\nc: 3\n"), 16)
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\nc: 33\n"), 16)
    @example(("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 2\n"), 1)
    def test_same_decisions_as_the_bytes(self, pair: tuple[str, str], block: int) -> None:
        """Packed at any size (``PACK_FROM`` 0) and any block size, ``patch`` parses the same entry, or
        declines, as the layout that keeps the bytes; what it keeps unpacks to the new document."""
        old, new = pair
        kept, packed = _layout_of(old, 10**9, block), _layout_of(old, 0, block)
        assert (kept is None) == (packed is None)
        if packed is None:
            return
        assert packed.text is None or len(old.encode()) != len(old)  # ASCII documents are packed
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_yamlparse, "PACK_FROM", 0)
            mp.setattr(_yamlparse, "_BLOCK", block)
            assert _decision(packed, new) == _decision(kept, new)
            patched = packed.patch(new, new.encode())
            if patched is not None and patched.text is None:
                assert patched.document() == new.encode()
                assert outcome(lambda *_: patched.result, b"") == outcome(_yamlparse._parse_yaml_strict, new.encode())

    @SETTINGS
    @given(edits(), st.sampled_from([0, 16]))
    def test_an_edit_parses_as_the_whole_text(self, pair: tuple[str, str], block: int) -> None:
        old, new = pair
        layouts: dict[str, Any] = {}
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_yamlparse, "PACK_FROM", 0)
            mp.setattr(_yamlparse, "_BLOCK", block)
            try:
                _yamlparse.parse_yaml(old.encode(), "app.yaml", layouts=layouts)
            except SourceError:
                pass

            def patched(data: bytes, source: str, limits: ParseLimits) -> Any:
                return _yamlparse.parse_yaml(data, source, limits, layouts=layouts)

            assert outcome(patched, new.encode()) == outcome(_yamlparse._parse_yaml_strict, new.encode())


def big_document(entries: int = 60, *, head: str = "# a big config\n") -> str:
    """An ASCII document of well over ``PACK_FROM`` bytes: ``entries`` sections of a dozen leaves."""
    parts = [head]
    for i in range(entries):
        parts.append(f"section_{i:03d}:\n")
        parts.extend(f"  key_{j}: value {i}-{j} {'x' * (j % 7)}\n" for j in range(8))
        parts.append(f"  nested:\n    port: {8000 + i}\n    hosts: [a{i}, b{i}]\n")
    return "".join(parts)


def _edit(text: str, section: int, old: str, new: str) -> str:
    at = text.index(f"section_{section:03d}:")
    at = text.index(old, at)
    return text[:at] + new + text[at + len(old):]


class TestBigDocuments:
    """Real sizes (well over ``PACK_FROM``, default blocks): each edit gives what a full parse gives; the
    edits that touch one entry parse only it and share the others, and the layout never holds the bytes."""

    def parse_twice(self, old: str, new: str) -> tuple[Any, Any, Any, Any]:
        layouts: dict[str, Any] = {}
        before = _yamlparse.parse_yaml(old.encode(), "big.yaml", layouts=layouts)
        first = layouts["big.yaml"]
        assert len(old) >= _yamlparse.PACK_FROM and first.text is None and len(first.cuts) > 1
        after = _yamlparse.parse_yaml(new.encode(), "big.yaml", layouts=layouts)
        assert canon(after) == canon(_yamlparse._parse_yaml_strict(new.encode(), "big.yaml"))
        return before, after, first, layouts.get("big.yaml")

    @pytest.mark.parametrize("section", [0, 1, 30, 59])
    @pytest.mark.parametrize(("old", "new"), [("port: 80", "port: 99"), ("port: 80", "port: 123456"),
                                              ("value ", "v "), ("hosts: [a", "hosts: [z, a")])
    def test_one_entry_edit_parses_only_it(self, section: int, old: str, new: str) -> None:
        text = big_document()
        edited = _edit(text, section, old, new)
        before, after, first, layout = self.parse_twice(text, edited)
        name = f"section_{section:03d}"
        assert after[name] is not before[name]
        assert all(after[k] is before[k] for k in before if k != name)  # parsed only the edited entry
        assert layout.text is None and layout.document() == edited.encode()
        changed = [m for m, (a, b) in enumerate(zip(first.chunks, layout.chunks)) if a is not b]
        assert len(changed) == 1  # only the edited entry's block was packed again
        assert layout.digests != first.digests and len(layout.digests) == len(first.digests)

    @pytest.mark.parametrize("case", ["insert", "remove", "two entries", "head", "append", "unchanged"])
    def test_other_edits_parse_the_whole_text(self, case: str) -> None:
        text = big_document()
        edited = {
            "insert": _edit(text, 30, "section_030:", "extra: 1\nsection_030:"),
            "remove": _edit(text, 59, "section_059:", "section_058b:").split("section_058b:")[0],
            "two entries": _edit(_edit(text, 2, "port: 80", "port: 9"), 40, "port: 80", "port: 9"),
            "head": "# another head\n" + text[len("# a big config\n"):],
            "append": text + "tail: 1\n",
            "unchanged": text,
        }[case]
        before, after, first, layout = self.parse_twice(text, edited)
        shared = [k for k in after if k in before and after[k] is before[k]]
        if case == "unchanged":
            assert layout is first and after is before
        else:
            assert shared == []  # parsed whole: every entry built again
            assert layout.text is None and layout.document() == edited.encode()

    def test_a_duplicate_key_fails_as_the_strict_loader(self) -> None:
        text = big_document()
        edited = _edit(text, 30, "section_030:", "section_010:")
        layouts: dict[str, Any] = {}
        _yamlparse.parse_yaml(text.encode(), "big.yaml", layouts=layouts)
        assert layouts["big.yaml"].patch(edited, edited.encode()) is None
        assert outcome(lambda d, s, lim: _yamlparse.parse_yaml(d, s, lim, layouts=layouts), edited.encode()) == outcome(
            _yamlparse._parse_yaml_strict, edited.encode()
        )
        assert outcome(_yamlparse._parse_yaml_strict, edited.encode())[0] == "error"

    def test_crossing_pack_from(self) -> None:
        """An edit that takes a document below ``PACK_FROM`` keeps its bytes; one above packs it."""
        small = "a: 1\nb: x\nc: 3\n"
        big = small.replace("b: x", "b: " + "y" * _yamlparse.PACK_FROM)
        layouts: dict[str, Any] = {}
        for text in (small, big, small, big):
            result = _yamlparse.parse_yaml(text.encode(), "app.yaml", layouts=layouts)
            assert result == {"a": 1, "b": text.split("b: ")[1].split("\n")[0], "c": 3}
            layout = layouts["app.yaml"]
            assert (layout.text is None) == (text is big)
            assert layout.document() == text.encode()

    def test_non_ascii_documents_keep_their_text(self) -> None:
        text = big_document() + "name: café\n"
        layouts: dict[str, Any] = {}
        _yamlparse.parse_yaml(text.encode(), "app.yaml", layouts=layouts)
        assert layouts["app.yaml"].text == text and layouts["app.yaml"].restorer() is None
