"""Pure tests of livesettings.watch.routes: the routing table and event classification, no files or threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesettings.watch.routes import DEFAULT_IGNORE, Routes, classify, counts_in_dir, event_kind, may_count

CFG = Path("/etc/app/config.yaml")
OTHER = Path("/etc/app/other.yaml")
SECRETS = Path("/run/secrets")


def routes() -> Routes:
    return Routes.build([CFG, OTHER], [SECRETS])


def regular(_path: str) -> bool:
    return True


def not_regular(_path: str) -> bool:
    return False


class TestRoutesTable:
    """Routes.build and Routes.from_paths."""

    def test_build_groups_by_directory(self) -> None:
        """File targets are grouped by directory and every target appears in by_dir and targets."""
        r = routes()
        assert r.files == {"/etc/app": {"config.yaml": CFG, "other.yaml": OTHER}}
        assert r.whole == {"/run/secrets": SECRETS}
        assert r.by_dir == {"/etc/app": frozenset({CFG, OTHER}), "/run/secrets": frozenset({SECRETS})}
        assert r.targets == frozenset({CFG, OTHER, SECRETS})

    def test_file_and_directory_target_in_one_directory(self) -> None:
        """A directory target and a file target in the same directory share one by_dir entry."""
        r = Routes.build([SECRETS / "token"], [SECRETS])
        assert r.by_dir == {"/run/secrets": frozenset({SECRETS / "token", SECRETS})}

    def test_from_paths_uses_is_dir(self) -> None:
        """from_paths makes paths absolute and turns a path the callable calls a directory into a whole target."""
        r = Routes.from_paths([CFG, SECRETS], [], is_dir=lambda p: p == SECRETS)
        assert r.whole == {"/run/secrets": SECRETS}
        assert r.files == {"/etc/app": {"config.yaml": CFG}}

    def test_empty(self) -> None:
        """No targets make an empty table."""
        assert Routes.build([], []).targets == frozenset()


class TestCountsInDir:
    """Which names inside a directory target count."""

    @pytest.mark.parametrize("name", ["4913", ".app.swp", "app~", ".#app", "#app#", "app.tmp", "..data", "..2026"])
    def test_artefacts_and_k8s_internals_do_not_count(self, name: str) -> None:
        """Editor artefacts and Kubernetes ``..`` entries never count."""
        assert not counts_in_dir(name, DEFAULT_IGNORE)

    def test_plain_name_counts(self) -> None:
        """An ordinary name counts unless an extra pattern matches it."""
        assert counts_in_dir("token", DEFAULT_IGNORE)
        assert not counts_in_dir("token", (*DEFAULT_IGNORE, "tok*"))


class TestEventKind:
    """What a raw event type says about the content."""

    @pytest.mark.parametrize(
        ("event_type", "is_dir", "kind"),
        [
            ("modified", False, "write"),
            ("closed", False, "close"),
            ("attrib", False, "touch"),
            ("moved", False, "done"),
            ("deleted", False, "done"),
            ("created", True, "done"),
            ("modified", True, "done"),
        ],
    )
    def test_kinds(self, event_type: str, is_dir: bool, kind: str) -> None:
        """Each event type maps to its kind."""
        assert event_kind(event_type, is_dir, lambda: True) == kind

    def test_created_asks_whether_regular(self) -> None:
        """A created regular file may still be written ("create"); a symlink or FIFO is complete ("done")."""
        assert event_kind("created", False, lambda: True) == "create"
        assert event_kind("created", False, lambda: False) == "done"

    def test_is_regular_only_asked_for_created(self) -> None:
        """The stat callable is not called for events that do not need it."""

        def boom() -> bool:
            raise AssertionError("stat'ed")

        for event_type in ("modified", "closed", "attrib", "moved", "deleted"):
            event_kind(event_type, False, boom)


class TestClassify:
    """Raw events to (target, kind, key) hits."""

    def test_exact_file_target(self) -> None:
        """An event naming a file target exactly hits it, keyed by the path."""
        assert classify(("modified", str(CFG), "", False), routes(), DEFAULT_IGNORE) == [
            (CFG, "write", str(CFG))
        ]

    def test_untracked_name_and_directory(self) -> None:
        """A sibling name that is not a target, and an unwatched directory, hit nothing."""
        r = routes()
        assert classify(("modified", "/etc/app/unrelated.yaml", "", False), r, DEFAULT_IGNORE) == []
        assert classify(("modified", "/var/log/x", "", False), r, DEFAULT_IGNORE) == []

    def test_rename_over_target_hits_by_dest(self) -> None:
        """An atomic save (temp renamed over the target) hits the target through dest_path."""
        hits = classify(("moved", "/etc/app/.config.yaml.tmp", str(CFG), False), routes(), DEFAULT_IGNORE)
        assert hits == [(CFG, "done", str(CFG))]

    def test_directory_target_counts_files_but_not_artefacts(self) -> None:
        """A file in a directory target hits the directory; an artefact in it does not."""
        r = routes()
        assert classify(("closed", "/run/secrets/token", "", False), r, DEFAULT_IGNORE) == [
            (SECRETS, "close", "/run/secrets/token")
        ]
        assert classify(("modified", "/run/secrets/.token.swp", "", False), r, DEFAULT_IGNORE) == []

    def test_exact_name_counts_even_if_it_looks_like_an_artefact(self) -> None:
        """A tracked file whose name matches an ignore pattern still counts for itself."""
        target = Path("/etc/app/app.tmp")
        r = Routes.build([target], [])
        assert classify(("modified", str(target), "", False), r, DEFAULT_IGNORE) == [
            (target, "write", str(target))
        ]

    def test_k8s_data_swap_hits_every_target_in_the_directory(self) -> None:
        """A ..data rename counts as a complete change of every target in its directory, unkeyed."""
        hits = classify(("moved", "/etc/app/..data_tmp", "/etc/app/..data", False), routes(), DEFAULT_IGNORE)
        assert hits == [(CFG, "done", None), (OTHER, "done", None)]

    def test_created_uses_the_callable(self) -> None:
        """A created name is "create" when the callable says regular, else "done"."""
        rec = ("created", str(CFG), "", False)
        assert classify(rec, routes(), DEFAULT_IGNORE, regular) == [(CFG, "create", str(CFG))]
        assert classify(rec, routes(), DEFAULT_IGNORE, not_regular) == [(CFG, "done", str(CFG))]


class TestMayCount:
    """may_count: the reader thread's pre-filter never drops an event that classify would route."""

    @pytest.mark.parametrize(
        "rec",
        [
            ("moved", "/etc/app/.config.yaml.tmp", "/etc/app/config.yaml", False),
            ("moved", "", "/etc/app/config.yaml", False),
            ("moved", "/etc/app/config.yaml", "", False),
            ("closed", "/etc/app/other.yaml", "", False),
            ("moved", "/etc/app/..data_tmp", "/etc/app/..data", False),
            ("created", "/run/secrets/token", "", False),
            ("created", "/run/secrets/.token.tmp", "", False),  # classify drops it; may_count need not
        ],
    )
    def test_keeps_what_may_count(self, rec: tuple[str, str, str, bool]) -> None:
        """Exact names, anything in a directory target, and ``..data`` pass."""
        assert may_count(rec, routes())

    @pytest.mark.parametrize(
        "rec",
        [
            ("created", "/etc/app/.config.yaml.tmp", "", False),
            ("closed", "/etc/app/.config.yaml.tmp", "", False),
            ("moved", "/etc/app/a.txt", "/etc/app/b.txt", False),
            ("modified", "/var/log/app.log", "", False),
            ("created", "/etc/app/..2026_01", "", True),
        ],
    )
    def test_drops_what_cannot(self, rec: tuple[str, str, str, bool]) -> None:
        """Names beside the targets and other directories are dropped, and classify agrees."""
        assert not may_count(rec, routes())
        assert classify(rec, routes(), DEFAULT_IGNORE, regular) == []
