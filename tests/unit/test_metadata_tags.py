"""Run tags: adding, removing and replacing user tags; system tags never change."""

from __future__ import annotations

import pytest

from grange.exceptions import MetadataError, TagError
from grange.metastore import MetadataStore
from grange.metastore.tags import MAX_TAG_LENGTH, MAX_USER_TAGS

FLOW = "TagFlow"


@pytest.fixture
def run_id(store: MetadataStore) -> str:
    return store.new_run(FLOW, user="ada", tags=["exp"], system_tags=["user:ada"])


def test_add_remove_replace(store: MetadataStore, run_id: str) -> None:
    assert store.add_tags(FLOW, run_id, tags=["a", "b"]) == {"exp", "a", "b"}
    assert store.remove_tags(FLOW, run_id, tags=["a"]) == {"exp", "b"}
    assert store.replace_tags(FLOW, run_id, remove=["b", "exp"], add=["c"]) == {"c"}
    tags = store.run_tags(FLOW, run_id)
    assert (tags.user, tags.system, tags.all) == ({"c"}, {"user:ada"}, {"c", "user:ada"})
    run = store.get_run(FLOW, run_id)
    assert run is not None and run.tags == tags


def test_replace_removes_before_adding(store: MetadataStore, run_id: str) -> None:
    assert store.replace_tags(FLOW, run_id, remove=["exp"], add=["exp"]) == {"exp"}


def test_adding_twice_and_removing_absent_tags_is_harmless(
    store: MetadataStore, run_id: str
) -> None:
    store.add_tags(FLOW, run_id, tags=["a"])
    assert store.add_tags(FLOW, run_id, tags=["a"]) == {"exp", "a"}
    assert store.remove_tags(FLOW, run_id, tags=["never-there"]) == {"exp", "a"}


def test_system_tags_are_immutable(store: MetadataStore, run_id: str) -> None:
    with pytest.raises(TagError, match=r"cannot remove system tags \['user:ada'\]"):
        store.remove_tags(FLOW, run_id, tags=["user:ada"])
    with pytest.raises(TagError, match="system tags"):
        store.replace_tags(FLOW, run_id, remove=["user:ada", "exp"], add=["x"])
    # adding a tag the run has as a system tag changes nothing
    assert store.add_tags(FLOW, run_id, tags=["user:ada"]) == {"exp"}
    assert store.run_tags(FLOW, run_id).system == {"user:ada"}
    assert store.run_tags(FLOW, run_id).user == {"exp"}  # the failed replace changed nothing


def test_user_tags_equal_to_system_tags_are_dropped_at_creation(store: MetadataStore) -> None:
    run_id = store.new_run(FLOW, user="ada", tags=["user:ada", "x"], system_tags=["user:ada"])
    assert store.run_tags(FLOW, run_id).user == {"x"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([""], "must not be empty"),
        (["x" * (MAX_TAG_LENGTH + 1)], f"the limit is {MAX_TAG_LENGTH}"),
        ("single-string", "must be a list of tags, not the single string"),
        ([3], "a tag must be a string, not int"),
        (["two\nlines"], "holds a control character"),
        ([], "no tag to add or remove"),
    ],
)
def test_invalid_tags_are_refused_with_a_clear_error(
    store: MetadataStore, run_id: str, tags: object, message: str
) -> None:
    with pytest.raises(TagError, match=message) as caught:
        store.add_tags(FLOW, run_id, tags=tags)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
    assert store.run_tags(FLOW, run_id).user == {"exp"}


def test_a_tag_of_exactly_the_limit_is_fine(store: MetadataStore, run_id: str) -> None:
    long = "x" * MAX_TAG_LENGTH
    assert long in store.add_tags(FLOW, run_id, tags=[long])


def test_at_most_fifty_user_tags(store: MetadataStore, run_id: str) -> None:
    store.add_tags(FLOW, run_id, tags=[f"t{i}" for i in range(MAX_USER_TAGS - 1)])
    with pytest.raises(TagError, match=f"at most {MAX_USER_TAGS} user tags"):
        store.add_tags(FLOW, run_id, tags=["one-more"])
    assert len(store.run_tags(FLOW, run_id).user) == MAX_USER_TAGS
    # a change that does not grow the set is allowed at the limit
    assert "swap" in store.replace_tags(FLOW, run_id, remove=["t0"], add=["swap"])


def test_new_run_checks_tags_too(store: MetadataStore) -> None:
    with pytest.raises(TagError, match="must not be empty"):
        store.new_run(FLOW, user="ada", tags=[""], system_tags=["user:ada"])
    with pytest.raises(TagError, match="at most 50"):
        store.new_run(FLOW, user="ada", tags=[f"t{i}" for i in range(51)])
    assert store.list_runs(FLOW) == []


def test_tags_of_an_unknown_run(store: MetadataStore) -> None:
    with pytest.raises(MetadataError, match=f"no run {FLOW}/7"):
        store.add_tags(FLOW, "7", tags=["x"])
    with pytest.raises(MetadataError, match=f"no run {FLOW}/7"):
        store.run_tags(FLOW, "7")


def test_tag_errors_render_a_fix(store: MetadataStore, run_id: str) -> None:
    with pytest.raises(TagError) as caught:
        store.remove_tags(FLOW, run_id, tags=["user:ada"])
    assert "Fix: remove only user tags" in caught.value.render()


@pytest.mark.parametrize(
    "tag", ["user:mallory", "runtime:argo", "python_version:2.7", "grange_version:0", "origin:x"]
)
def test_user_tags_cannot_forge_system_tags(store: MetadataStore, run_id: str, tag: str) -> None:
    with pytest.raises(TagError, match="form of a system tag"):
        store.add_tags(FLOW, run_id, tags=[tag])
    with pytest.raises(TagError, match="form of a system tag"):
        store.replace_tags(FLOW, run_id, remove=["exp"], add=[tag])
    with pytest.raises(TagError, match="form of a system tag"):
        store.new_run(FLOW, user="ada", tags=[tag], system_tags=["user:ada"])
    assert store.run_tags(FLOW, run_id).user == {"exp"}
    assert [r.run_id for r in store.list_runs(FLOW, tags=[tag])] == []


def test_tags_that_only_look_alike_are_user_tags(store: MetadataStore, run_id: str) -> None:
    assert store.add_tags(FLOW, run_id, tags=["username:x", "user", "my-user:x"]) == {
        "exp",
        "username:x",
        "user",
        "my-user:x",
    }
