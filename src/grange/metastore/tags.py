"""Rules for run tags, and the arithmetic of changing a run's user tags.

A run has *system* tags, set once by the runtime when the run is created
(``user:<name>``, ``runtime:local``, ...) and never changed, and *user* tags,
which ``add_tags`` / ``remove_tags`` / ``replace_tags`` change. The rules follow
Metaflow's so that existing tagging code behaves the same:

- a tag is a non-empty string of at most :data:`MAX_TAG_LENGTH` printable characters;
- a run has at most :data:`MAX_USER_TAGS` user tags, except that a run already
  over the limit may be changed as long as the change does not add to it;
- removing a system tag is an error; adding a tag the run already has as a
  system tag changes nothing (it is already one of the run's tags);
- ``replace_tags`` removes first, then adds, as one change;
- a user tag may not take a system tag's form (:data:`RESERVED_TAG_PREFIXES`:
  ``user:``, ``runtime:``, ...) unless the run already has that very tag as a
  system tag: otherwise ``--tag user:mallory`` would put a run in mallory's
  namespace.
"""

from __future__ import annotations

from collections.abc import Iterable

from grange.exceptions import TagError

MAX_USER_TAGS = 50
MAX_TAG_LENGTH = 500

RESERVED_TAG_PREFIXES = (
    "date:",
    "grange_version:",
    "metaflow_version:",
    "origin:",
    "production:",
    "project:",
    "project_branch:",
    "python_version:",
    "runtime:",
    "schedule:",
    "trigger:",
    "user:",
)
"""Forms that only system tags take: namespaces (``user:``, ``project:``,
``production:``) and facts the runtime records about a run."""


def check_user_tags(tags: frozenset[str], system: frozenset[str]) -> None:
    """Refuse user tags in a system tag's form (see :data:`RESERVED_TAG_PREFIXES`)."""
    forged = sorted(t for t in tags - system if t.startswith(RESERVED_TAG_PREFIXES))
    if forged:
        prefix = forged[0].split(":", 1)[0] + ":"
        raise TagError(
            f"the tag {forged[0]!r} has the form of a system tag ('{prefix}...'), "
            "which grange sets itself: a user tag cannot put a run in another namespace "
            "or claim facts about it",
            fix="choose a tag that does not start with any of " + ", ".join(RESERVED_TAG_PREFIXES),
        )


def check_tags(tags: Iterable[str], *, what: str = "tags") -> frozenset[str]:
    """The tags as a set, each checked; a :class:`TagError` names the first bad one."""
    if isinstance(tags, (str, bytes)):
        raise TagError(
            f"{what} must be a list of tags, not the single string {tags!r}",
            fix=f"pass [{tags!r}]",
        )
    checked = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise TagError(f"a tag must be a string, not {type(tag).__name__} ({tag!r})")
        if not tag:
            raise TagError("a tag must not be empty", fix="give the tag some text")
        if not tag.isprintable():
            raise TagError(
                f"the tag {tag!r} holds a control character (a newline, a tab, ...)",
                fix="use printable characters only",
            )
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(
                f"the tag {tag[:40]!r}... is {len(tag)} characters long; "
                f"the limit is {MAX_TAG_LENGTH}",
                fix="use a shorter tag",
            )
        checked.add(tag)
    return frozenset(checked)


def check_tag_count(new: frozenset[str], old: frozenset[str] = frozenset()) -> None:
    """Refuse a user tag set over the limit, unless it is no larger than ``old``."""
    if len(new) > MAX_USER_TAGS and len(new) > len(old):
        raise TagError(
            f"a run may carry at most {MAX_USER_TAGS} user tags; this change would "
            f"give it {len(new)}",
            fix="remove some tags first (replace_tags removes and adds in one step)",
        )


def mutate_user_tags(
    *,
    user: frozenset[str],
    system: frozenset[str],
    remove: Iterable[str] = (),
    add: Iterable[str] = (),
) -> frozenset[str]:
    """The user tag set after removing ``remove`` then adding ``add``.

    Raises :class:`TagError` for an invalid tag, a system tag in ``remove``,
    or a result with too many tags.
    """
    to_remove = check_tags(remove, what="tags to remove")
    to_add = check_tags(add, what="tags to add")
    if not to_remove and not to_add:
        raise TagError("no tag to add or remove", fix="name at least one tag")
    check_user_tags(to_add, system)
    immutable = sorted(to_remove & system)
    if immutable:
        raise TagError(
            f"cannot remove system tags {immutable}: system tags are set when a run "
            "starts and never change",
            fix="remove only user tags (Run.user_tags lists them)",
        )
    new = (user - to_remove) | (to_add - system)
    if new != user:
        check_tag_count(new, user)
    return new
