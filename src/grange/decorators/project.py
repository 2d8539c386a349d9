"""``@project(name="fraud")``: flows that belong together, deployed side by side per branch.

As in Metaflow, a project's runs and deployments belong to a *branch*:

==========================================  =====================
how the flow is run or deployed             branch
==========================================  =====================
``python flow.py run``                      ``user.<your name>``
``python flow.py --branch x run``           ``test.x``
``python flow.py --production run``         ``prod``
``python flow.py --production --branch x``  ``prod.x``
==========================================  =====================

The branch can also be fixed in the decorator (``@project(name=, branch=,
production=)``); giving a different value on the command line too is an error.
:func:`project_info` resolves all this, purely, for a run and for the Argo
compiler alike: ``project_flow_name`` (``<project>.<branch>.<Flow>``) names a
deployment, so branches never overwrite each other, and every run carries the
system tags ``project:<name>`` and ``project_branch:<branch>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grange.decorators.flow import (
    FlowDecorator,
    flow_decorator,
    flow_problems_of,
    make_flow_decorator,
)
from grange.exceptions import CommandError, DecoratorError

# As Metaflow's: other systems (scheduler names, tags) rely on these limits.
NAME_CHARACTERS = re.compile(r"[^a-z0-9_]")
MAX_NAME_LENGTH = 128
# A branch may also hold single dashes between other characters (grange's addition:
# `--branch pr-12` for a pull request); every name made from it stays valid
# (Kubernetes object names and labels, Argo names, tags, event names).
BRANCH_CHARACTERS = re.compile(r"[^a-z0-9_-]")
BRANCH_NAME = re.compile(r"^[a-z0-9_]+(-[a-z0-9_]+)*$")
ALNUM = re.compile(r"[a-z0-9]")


class ProjectDecorator(FlowDecorator):
    """Put the flow in project ``name``; its runs and deployments belong to a branch.

    ``name``: lowercase letters, digits and ``_``, at most 128 characters, unique
    among the projects deployed to the same scheduler; a ``branch`` may also hold
    dashes (``pr-12``), single and between other characters. ``branch`` and
    ``production`` fix what ``--branch NAME`` and ``--production`` would say.
    In every task, ``current.project_name``, ``current.branch_name``,
    ``current.project_flow_name``, ``current.is_production`` and
    ``current.is_user_branch`` tell where the run belongs.
    """

    name = "project"
    defaults = {"name": None, "branch": None, "production": False}

    def validate(self) -> None:
        project = self.attributes["name"]
        if project is None:
            raise DecoratorError(
                "@project needs a name", fix="write @project(name='my_project') above the class"
            )
        problem = name_problem(project)
        if problem:
            raise DecoratorError(
                f"@project(name={project!r}): the project name {problem}",
                fix=f"use e.g. @project(name={_suggest(project)!r})",
            )
        branch = self.attributes["branch"]
        if branch is not None:
            problem = branch_problem(branch)
            if problem:
                raise DecoratorError(
                    f"@project(branch={branch!r}): the branch name {problem}",
                    fix=f"use e.g. @project(branch={suggest_branch(branch)!r}), or leave branch= out "
                    "and pass --branch on the command line",
                )
        if not isinstance(self.attributes["production"], bool):
            raise DecoratorError(
                f"@project(production={self.attributes['production']!r}) must be True or False",
                fix="write @project(..., production=True), or pass --production instead",
            )


project = make_flow_decorator(ProjectDecorator)


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot name a project or a branch (Metaflow's rules), or None."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if NAME_CHARACTERS.search(value):
        return "may contain only lowercase letters (a-z), digits and underscores"
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    return None


def branch_problem(value: object) -> str | None:
    """Why ``value`` cannot name a branch, or None: a project name's rules, and single
    dashes between other characters (Metaflow allows no dash)."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if BRANCH_CHARACTERS.search(value):
        return "may contain only lowercase letters (a-z), digits, underscores and dashes"
    if not BRANCH_NAME.match(value):
        return "may not start or end with a dash, nor hold two dashes in a row"
    if not ALNUM.search(value):
        # Kubernetes names drop '_': `--branch _` would vanish from them
        return "must hold at least one letter or digit"
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    return None


def _suggest(value: object) -> str:
    text = NAME_CHARACTERS.sub("_", str(value).lower()).strip("_")
    return (text or "my_project")[:MAX_NAME_LENGTH]


def suggest_branch(value: object) -> str:
    """A valid branch name close to ``value`` (``My Branch!`` -> ``my-branch``)."""
    text = re.sub(r"-{2,}", "-", BRANCH_CHARACTERS.sub("-", str(value).lower())).strip("-")
    if not ALNUM.search(text):
        text = ""
    return (text or "my_branch")[:MAX_NAME_LENGTH].rstrip("-")


@dataclass(frozen=True)
class ProjectInfo:
    """Where a run or a deployment of a ``@project`` flow belongs."""

    project_name: str
    branch_name: str  # user.<name>, test.<branch>, prod or prod.<branch>
    flow_name: str
    is_production: bool
    is_user_branch: bool

    @property
    def project_flow_name(self) -> str:
        """``<project>.<branch>.<Flow>``: the name of the flow's deployment on this branch."""
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"

    @property
    def system_tags(self) -> tuple[str, str]:
        """The tags every run of this branch carries (as Metaflow's)."""
        return (f"project:{self.project_name}", f"project_branch:{self.branch_name}")

    @property
    def namespace(self) -> str:
        """The namespace of this branch's runs, of every user (``namespace(info.namespace)``).

        Local runs' tasks read ``user:<name>``, as Metaflow's; a deployment may
        pass this as ``--namespace`` so that its tasks read their branch only,
        as Metaflow's production namespace does.
        """
        return f"project_branch:{self.branch_name}"

    @property
    def branch_options(self) -> list[str]:
        """The command-line options that choose this branch again (none: the user's)."""
        return branch_options(self.branch_name)

    def current_facts(self) -> dict[str, object]:
        """The ``current.*`` values of a task of this branch."""
        return {
            "project_name": self.project_name,
            "branch_name": self.branch_name,
            "project_flow_name": self.project_flow_name,
            "is_production": self.is_production,
            "is_user_branch": self.is_user_branch,
        }


def branch_options(branch_name: str) -> list[str]:
    """``--branch``/``--production`` options that give ``branch_name`` (``prod.x``:
    ``--branch x --production``; ``user.<name>``: none, it is the default)."""
    kind, _, name = branch_name.partition(".")
    if kind not in ("test", "prod"):
        return []
    return [*(["--branch", name] if name else []), *(["--production"] if kind == "prod" else [])]


#: ``current.*`` in a task of a flow without ``@project`` (as Metaflow: nothing set).
NO_PROJECT_FACTS: dict[str, object] = {
    "project_name": None,
    "branch_name": None,
    "project_flow_name": None,
    "is_production": False,
    "is_user_branch": False,
}


def project_info(
    flow_cls: type, *, user: str, branch: str | None = None, production: bool = False
) -> ProjectInfo | None:
    """Resolve the branch of ``flow_cls`` for ``user`` given ``--branch``/``--production``.

    None for a flow without ``@project``. Raises :class:`CommandError` for a
    branch name that is not allowed, for ``--branch``/``--production`` on a flow
    without ``@project`` (as Metaflow, which has no such options then), and for a
    value that contradicts the decorator's own.
    """
    flow = flow_cls.__name__
    deco = flow_decorator(flow_cls, "project")
    if deco is None:
        broken = [p for p in flow_problems_of(flow_cls) if p.decorator == "project"]
        if broken:
            raise DecoratorError(f"{flow}: {broken[0].message}", fix=broken[0].fix)
        if branch is not None or production:
            option = "--branch" if branch is not None else "--production"
            raise CommandError(
                f"{option} applies to flows in a project, and {flow} has no @project",
                fix=f"add @project(name='...') above 'class {flow}', or leave {option} out",
            )
        return None
    attributes = deco.attributes
    if "branch" in deco.given and branch is not None and branch != attributes["branch"]:
        raise CommandError(
            f"--branch {branch} contradicts @project(branch={attributes['branch']!r}) on {flow}",
            fix="leave --branch out, or remove branch= from @project",
        )
    if "production" in deco.given and production and not attributes["production"]:
        raise CommandError(
            f"--production contradicts @project(production=False) on {flow}",
            fix="leave --production out, or remove production= from @project",
        )
    if branch is None and "branch" in deco.given:
        branch = attributes["branch"]
    production = production or bool(attributes["production"])
    if branch is not None:
        problem = branch_problem(branch)
        if problem:
            raise CommandError(
                f"--branch {branch!r}: a branch name {problem}",
                fix=f"pass e.g. --branch {suggest_branch(branch)}",
            )
    if branch is not None:
        branch_name = f"prod.{branch}" if production else f"test.{branch}"
    else:
        branch_name = "prod" if production else f"user.{user}"
    return ProjectInfo(
        project_name=attributes["name"],
        branch_name=branch_name,
        flow_name=flow,
        is_production=production,
        is_user_branch=branch is None and not production,
    )
