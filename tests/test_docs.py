"""The documentation runs: code blocks in README.md and docs/, the scripts in examples/, and the site layout.

Each page's ```python blocks run in order, in one namespace, in a fresh temporary working
directory, with the ``LIVESETTINGS_ENV`` family of variables unset. A block preceded by a
``<!-- test: skip -->`` comment is not run (keep that for pseudo-code). Tracebacks point at the
page and line the failing code is on.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import livesettings
from livesettings import EnvironmentConfigProvider, ReloadableSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
ENV_VARS = ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT", "LIVESETTINGS_POLL")
SKIP_MARK = "<!-- test: skip -->"
EXAMPLE_TIMEOUT_S = 60

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: Path
    line: int  # 1-based line of the first line of code
    lang: str
    code: str
    skip: bool


def fenced_blocks(page: Path) -> list[Block]:
    """Every fenced code block in ``page``, with whether a skip comment precedes it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    previous = ""  # the last non-blank line outside a block
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        lang = match["info"].strip().split(" ")[0].lower() if match["info"].strip() else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j][indent:] if not lines[j][:indent].strip() else lines[j].lstrip())
            j += 1
        blocks.append(Block(page, i + 2, lang, "\n".join(body) + "\n", previous == SKIP_MARK))
        previous = ""
        i = j + 1
    return blocks


def python_blocks(page: Path) -> list[Block]:
    return [b for b in fenced_blocks(page) if b.lang == "python"]


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


PAGES_WITH_CODE = [p for p in PAGES if python_blocks(p)]


def _close_livesettings_objects() -> None:
    """Close every settings object and provider still open (the design brief's example test leaves one)."""
    gc.collect()
    for obj in gc.get_objects():
        # type(), not isinstance(): a lazy proxy (django.conf.settings) would evaluate itself on __class__
        if issubclass(type(obj), (ReloadableSettings, EnvironmentConfigProvider)):
            obj.close()


@pytest.fixture
def docs_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory, no environment selection, and livesettings' loggers put back afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    names = ("", "livesettings", "livesettings.audit", "livesettings.notify")
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    try:
        yield tmp_path
    finally:
        _close_livesettings_objects()
        for lg, handlers, level, propagate in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


def run_page(page: Path) -> None:
    """Execute the page's python blocks in order in one fresh module namespace."""
    name = "livesettings_docs_" + re.sub(r"\W", "_", page_id(page))
    module = types.ModuleType(name)
    module.__file__ = str(page)
    sys.modules[name] = module
    try:
        for block in python_blocks(page):
            if block.skip:
                continue
            # Pad with newlines so that tracebacks show the page's own line numbers.
            code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            try:
                exec(code, module.__dict__)  # noqa: S102 - running the documentation is the point
            except Exception as exc:
                raise AssertionError(
                    f"{page_id(page)}: the python block at line {block.line} failed: {exc!r}"
                ) from exc
    finally:
        sys.modules.pop(name, None)


class TestCodeBlocks:
    """Every ```python block in README.md and docs/ runs."""

    @pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=page_id)
    def test_page_runs(self, page: Path, docs_env: Path) -> None:
        """The page's blocks run in order in one namespace without raising."""
        run_page(page)

    def test_pages_have_code(self) -> None:
        """The concept pages and the README carry runnable examples (the collection is not empty)."""
        have = {page_id(p) for p in PAGES_WITH_CODE}
        required_pages = (
            "README.md", "docs/index.md", "docs/reading.md", "docs/reloading.md", "docs/history.md",
            "docs/handlers.md", "docs/files.md", "docs/restart-fields.md", "docs/production.md",
            "docs/compat.md",
        )
        for required in required_pages:
            assert required in have, f"{required} has no python code block"

    def test_skips_are_rare(self) -> None:
        """Skipped blocks are the exception: at most a handful across all pages."""
        skipped = [f"{page_id(b.page)}:{b.line}" for p in PAGES for b in python_blocks(p) if b.skip]
        assert len(skipped) <= 5, skipped


class TestExamples:
    """Every script in examples/ runs as a real process, from an unrelated working directory."""

    def test_examples_exist(self) -> None:
        """The demo and at least two more examples are present."""
        names = {p.name for p in EXAMPLES}
        assert "demo.py" in names
        assert len(names) >= 3, names

    @pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
    def test_example_exits_zero(self, script: Path, tmp_path: Path) -> None:
        """The script exits with status 0 within the timeout."""
        env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, (
            f"{script.name} exited with {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        assert result.stdout.strip(), f"{script.name} printed nothing"
        assert not list(tmp_path.iterdir()), f"{script.name} left files in the working directory"


def _nav_pages(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


def _api_targets() -> dict[str, list[str]]:
    """``{api page: [dotted targets of its ::: lines]}``."""
    return {
        page_id(p): [line.split(":::", 1)[1].strip() for line in p.read_text().splitlines() if line.strip()]
        for p in sorted((DOCS / "api").glob("*.md"))
    }


def _resolve(target: str) -> Any:
    """The object a dotted ``livesettings...`` path names (importing submodules), or ``None``."""
    parts = target.split(".")
    obj: Any = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        if not hasattr(obj, part):
            try:
                importlib.import_module(".".join(parts[: i + 1]))
            except ImportError:
                return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class TestSite:
    """The mkdocs site is consistent: nav, API pages, links and markers."""

    def test_nav_matches_pages(self) -> None:
        """Every page under docs/ is in the mkdocs nav, and every nav entry exists."""
        config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
        nav = set(_nav_pages(config["nav"]))
        pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
        assert nav == pages

    def test_mkdocstrings_configured(self) -> None:
        """mkdocs uses the material theme and mkdocstrings' python handler with google docstrings."""
        config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
        assert config["theme"]["name"] == "material"
        plugins = {next(iter(p)) if isinstance(p, dict) else p: p for p in config["plugins"]}
        python = plugins["mkdocstrings"]["mkdocstrings"]["handlers"]["python"]
        assert python["options"]["docstring_style"] == "google"

    def test_api_pages_hold_only_directives(self) -> None:
        """API pages contain nothing but ``::: livesettings.X`` lines."""
        for page in sorted((DOCS / "api").glob("*.md")):
            for line in page.read_text().splitlines():
                if line.strip():
                    directive = re.fullmatch(r"::: livesettings(\.\w+)+", line.strip())
                    assert directive, f"{page_id(page)}: {line!r}"

    def test_api_targets_exist(self) -> None:
        """Every ``:::`` target names something importable."""
        for page, targets in _api_targets().items():
            for target in targets:
                assert _resolve(target) is not None, f"{page}: {target} does not exist"

    def test_public_api_is_documented(self) -> None:
        """Every name in ``livesettings.__all__`` has an entry in the API reference."""
        targets = {t for ts in _api_targets().values() for t in ts}
        covered: set[str] = set()
        for target in targets:
            parts = target.split(".")
            if len(parts) == 2:
                obj = _resolve(target)
                if isinstance(obj, types.ModuleType):
                    covered.update(getattr(obj, "__all__", ()))
                else:
                    covered.add(parts[1])
        missing = sorted(set(livesettings.__all__) - covered)
        assert not missing, f"add these to a page under docs/api/: {missing}"

    def test_public_modules_are_documented(self) -> None:
        """Every public submodule (``livesettings.exceptions``, ``livesettings.testing`` ...) has a page."""
        targets = {t for ts in _api_targets().values() for t in ts}
        package = Path(livesettings.__file__).parent
        modules = {f"livesettings.{p.stem}" for p in package.glob("*.py") if not p.name.startswith("_")}
        missing = sorted(modules - targets)
        assert not missing, f"add these to a page under docs/api/: {missing}"

    @pytest.mark.parametrize("page", PAGES, ids=page_id)
    def test_relative_links_resolve(self, page: Path) -> None:
        """Relative Markdown links point at files that exist."""
        text = page.read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            assert (page.parent / target).exists(), f"{page_id(page)} links to missing {target}"

    def test_performance_page_has_bench_markers(self) -> None:
        """performance.md keeps the markers the bench script writes its numbers between."""
        text = (DOCS / "performance.md").read_text()
        assert "## Latest numbers" in text
        start, end = text.index("<!-- bench:start -->"), text.index("<!-- bench:end -->")
        assert start < end


class TestProjectFiles:
    """README and CHANGELOG say what the project promises."""

    def test_quick_start_is_two_make_commands(self) -> None:
        """The README's Quick start has exactly `make demo` and `make test`, and the Makefile has both."""
        readme = (ROOT / "README.md").read_text()
        section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
        shells = ("sh", "shell", "console", "bash")
        commands = [
            b.code.strip() for b in fenced_blocks(ROOT / "README.md")
            if b.lang in shells and b.code.strip() and b.code.strip() in section
        ]
        lines = [
            ln.lstrip("$ ").split("#")[0].strip() for c in commands for ln in c.splitlines() if ln.strip()
        ]
        assert lines == ["make demo", "make test"]
        makefile = (ROOT / "Makefile").read_text()
        assert re.search(r"^demo:", makefile, re.MULTILINE) and re.search(r"^test:", makefile, re.MULTILINE)

    def test_changelog_has_unreleased_section(self) -> None:
        """CHANGELOG.md follows Keep a Changelog with an Unreleased section naming the front door."""
        text = (ROOT / "CHANGELOG.md").read_text()
        assert "## [Unreleased]" in text
        assert "livesettings.ReloadableSettings" in text
