"""``--branch NAME`` and ``--production``: the branch of a ``@project`` flow a command works on.

Both are top-level options, as in Metaflow (``python flow.py --branch x run``,
``python flow.py --production argo-workflows create``); ``run`` and ``resume``
take them after the command too. :func:`resolve_project` merges the two places
and resolves the branch with :func:`grange.decorators.project.project_info`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grange.exceptions import CommandError
from grange.parameters import current_username

if TYPE_CHECKING:
    from grange.cli.context import FlowContext
    from grange.decorators.project import ProjectInfo


def resolve_project(
    flow: FlowContext, *, branch: str | None = None, production: bool = False
) -> ProjectInfo | None:
    """The flow's project branch for this command line (None: the flow has no @project)."""
    from grange.decorators.project import project_info

    top = flow.settings.branch
    if top is not None and branch is not None and top != branch:
        raise CommandError(
            f"--branch is given twice, as {top} and as {branch}",
            fix="give --branch once, before or after the command",
        )
    return project_info(
        flow.flow_cls,
        user=current_username(),
        branch=branch if branch is not None else top,
        production=production or flow.settings.production,
    )


def branch_args(branch: str | None, production: bool) -> list[str]:
    """The top-level options that choose the same branch in another process."""
    args = ["--branch", branch] if branch is not None else []
    return [*args, "--production"] if production else args
