"""Errors a user can cause, each with the exit code the CLI ends with.

Every one ends the CLI with status 2, as docs/cli.md says (1 is a failed run,
130 an interrupted one; an internal error of grange, a bug, also ends with 1):

    GrangeError                      base of everything grange raises on purpose
    ├── FlowDefinitionError          the flow file does not define a valid flow
    │   ├── LintError                graph rules broken (one or more LintProblem)
    │   └── DecoratorError           a decorator is misused (arguments, placement)
    ├── ParameterError               a Parameter is defined or given badly
    │   └── ParameterAssignmentError a step assigns or deletes a parameter (an AttributeError)
    ├── InvalidNextError             ``self.next(...)`` called wrongly at run time
    │   └── EmptyForeachError        a foreach over zero items
    ├── TooManySplitsError           a foreach over more items than --max-num-splits
    ├── DatastoreError               stored bytes cannot be read or written
    │   ├── BlobNotFound             no blob under the key asked for
    │   ├── RecordExistsError        an attempt's record was written already
    │   ├── ArtifactSerializationError an artifact cannot be pickled
    │   ├── ArtifactLoadError        a stored artifact cannot be unpickled
    │   │   └── DamagedBlobError     stored bytes do not hash to their content key
    │   └── StoreAccessError         a remote store cannot be reached or used (bucket,
    │                                credentials, permissions, network)
    ├── StoreFullError               the disk holding a store is full
    ├── StoreReadOnlyError           a store can be read but not written
    ├── CommandError                 a CLI command got arguments it cannot use
    ├── CompileError                 a flow cannot be compiled for a scheduler (Argo)
    ├── ConfigError                  the configuration file or a profile is invalid
    ├── PolicyError                  a profile's policy refuses what was asked
    ├── SecretError                  a secret cannot be read from its source
    ├── KubernetesError              a cluster cannot be reached or used as asked
    ├── EventError                   an event cannot be published, received or recorded
    ├── HarnessError                 grange.testing was asked for what it cannot do
    │   ├── FlowFailed               run_flow: the flow could not start (its output)
    │   └── StepFailed               run_step: the step raised (the user's traceback)
    ├── MetadataError                the metadata store cannot do what was asked
    │   └── TagError                 a run tag is invalid or may not be changed
    └── ClientError                  the client API cannot give what was asked
        ├── ObjectNotFound           no flow/run/step/task/artifact there (a KeyError)
        ├── NamespaceMismatch        the object's run is outside the current namespace
        └── InvalidPathspec          a pathspec of the wrong shape (a ValueError)

Every error carries what is wrong (``message``), where (``file``, ``line``,
``step``, ``parameter``) and how to fix it (``fix``); :meth:`GrangeError.render`
turns that into the text the CLI prints instead of a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


class GrangeError(Exception):
    """Base class of the errors grange raises for problems a user can fix."""

    exit_code: int = 2
    headline: str = "Error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        step: str | None = None,
        parameter: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.step = step
        self.parameter = parameter
        self.fix = fix

    def location(self) -> str:
        """``flow.py:12, step 'train'`` — as much of the place as is known."""
        parts = []
        if self.file:
            where = _display_path(self.file)
            if self.line:
                where += f":{self.line}"
            parts.append(where)
        if self.step:
            parts.append(f"step '{self.step}'")
        if self.parameter:
            parts.append(f"parameter '{self.parameter}'")
        return ", ".join(parts)

    def render(self) -> str:
        where = self.location()
        text = f"{self.headline}: {self.message}"
        if where:
            text = f"{where}: {text}"
        if self.fix:
            text += f"\n  Fix: {self.fix}"
        return text

    def __str__(self) -> str:
        return self.render()


class FlowDefinitionError(GrangeError):
    """The flow file does not define a valid flow."""

    exit_code = 2
    headline = "Invalid flow"


class DecoratorError(FlowDefinitionError):
    """A decorator is misused: unknown arguments, wrong types or placement."""

    headline = "Invalid decorator"


class ParameterError(GrangeError):
    """A Parameter is defined badly, or a value given for it cannot be used."""

    exit_code = 2
    headline = "Invalid parameter"


class ParameterAssignmentError(ParameterError, AttributeError):
    """A step assigned to (or deleted) a parameter, which is read-only while a flow runs.

    Also an :class:`AttributeError`, as in Metaflow (where a parameter is a
    property without a setter), so flows that catch ``AttributeError`` keep working.
    """

    headline = "Read-only parameter"


class InvalidNextError(GrangeError):
    """``self.next(...)`` was called in a way the flow's graph does not allow."""

    headline = "Invalid transition"


class EmptyForeachError(InvalidNextError):
    """A foreach was asked to fan out over zero items (Metaflow refuses this too)."""


class TooManySplitsError(GrangeError):
    """A foreach produced more items than ``--max-num-splits`` allows."""

    headline = "Too many foreach splits"


class DatastoreError(GrangeError):
    """Base of the errors about stored bytes: missing, unreadable or unwritable."""

    headline = "Datastore error"


class BlobNotFound(DatastoreError):
    """No blob is stored under ``key``."""

    headline = "Not found in the datastore"

    def __init__(self, key: str, where: str | None = None) -> None:
        text = f"no blob '{key}'" + (f" in {where}" if where else "")
        super().__init__(text)
        self.key = key


class RecordExistsError(DatastoreError):
    """An attempt's record exists already; records are written once, never replaced."""


class ArtifactSerializationError(DatastoreError):
    """An artifact cannot be pickled; ``type_name`` and ``original`` say why."""

    headline = "Cannot save artifact"

    def __init__(
        self,
        message: str,
        *,
        type_name: str | None = None,
        original: BaseException | None = None,
        artifact: str | None = None,
        step: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, step=step, fix=fix)
        self.type_name = type_name
        self.original = original
        self.artifact = artifact


class ArtifactLoadError(DatastoreError):
    """A stored artifact cannot be turned back into an object."""

    headline = "Cannot load artifact"


class DamagedBlobError(ArtifactLoadError):
    """A content-addressed blob whose bytes no longer hash to its key."""

    headline = "Damaged artifact"


class StoreFullError(GrangeError):
    """A write failed because the disk (or quota) holding a store is full."""

    headline = "Disk full"


class StoreReadOnlyError(GrangeError):
    """A store on a read-only file system (or without write permission) was written to."""

    headline = "Read-only store"


class StoreAccessError(DatastoreError):
    """A remote store (S3) refused or could not serve a request.

    ``reason`` is one of ``"no-bucket"``, ``"credentials"``, ``"denied"``,
    ``"unreachable"``, ``"throttled"`` or ``"other"``; the message names the bucket and key.
    """

    headline = "Cannot use the datastore"

    def __init__(self, message: str, *, reason: str = "other", fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.reason = reason


class ConfigError(GrangeError):
    """The configuration file (``~/.grange/config.toml``) or a profile in it is invalid."""

    headline = "Invalid configuration"


class PolicyError(GrangeError):
    """A profile's policy refuses what was asked; the message names the rule."""

    headline = "Refused by policy"


class KubernetesError(GrangeError):
    """Kubernetes cannot be reached or used as asked (no configuration, a refused
    request, a local datastore that pods cannot read)."""

    headline = "Kubernetes error"


class EventError(GrangeError):
    """An event cannot be published, received or recorded: an invalid name or payload,
    an events endpoint that cannot be reached or refuses it, a body that is no event."""

    headline = "Event error"


class SecretError(GrangeError):
    """A secret could not be read from its source (missing, denied, malformed)."""

    headline = "Secret unavailable"


class EnvError(GrangeError):
    """A step's ``@pypi`` / ``@conda`` environment cannot be resolved, built or rebuilt
    (no such package, no Python of that version, no network to the index...)."""

    headline = "Environment error"


class CommandError(GrangeError):
    """A command-line invocation that cannot be carried out as given."""

    exit_code = 2
    headline = "Invalid command"


class CompileError(GrangeError):
    """A flow cannot be compiled for a production scheduler (Argo Workflows): a shape
    it cannot express, a name or value past its limits, or a manifest that fails the
    compiler's own checks."""

    exit_code = 2
    headline = "Cannot compile for Argo Workflows"


class MetadataError(GrangeError):
    """The metadata store cannot do what was asked (unknown run, newer schema, ...)."""

    headline = "Metadata error"


class TagError(MetadataError):
    """A run tag is invalid (empty, too long, too many) or may not be changed."""

    exit_code = 2
    headline = "Invalid tag"


class ClientError(GrangeError):
    """The client API (``Flow``, ``Run``, ...) cannot give what was asked."""

    exit_code = 2
    headline = "Client error"


class ObjectNotFound(ClientError, KeyError):
    """No flow, run, step, task or artifact at ``pathspec``.

    Also a :class:`KeyError`, so ``run["stepname"]`` fails the way a mapping
    lookup does (and the way Metaflow's client does).
    """

    headline = "Not found"

    def __init__(
        self, message: str, *, pathspec: str | None = None, fix: str | None = None
    ) -> None:
        super().__init__(message, fix=fix)
        self.pathspec = pathspec


class NamespaceMismatch(ClientError):
    """The object's run does not carry the current namespace tag."""

    headline = "Not in namespace"

    def __init__(
        self,
        message: str,
        *,
        pathspec: str | None = None,
        namespace: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.pathspec = pathspec
        self.namespace = namespace


class InvalidPathspec(ClientError, ValueError):
    """A pathspec with the wrong number of parts, or empty parts."""

    headline = "Invalid pathspec"


@dataclass(frozen=True)
class LintProblem:
    """One broken graph rule, located in the user's flow file."""

    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    step: str | None = None
    fix: str | None = None

    def as_error(self) -> GrangeError:
        err = FlowDefinitionError(
            self.message, file=self.file, line=self.line, step=self.step, fix=self.fix
        )
        err.headline = f"Invalid flow [{self.rule}]"
        return err


class LintError(FlowDefinitionError):
    """The flow's graph breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, problems: list[LintProblem]) -> None:
        first = problems[0]
        super().__init__(
            first.message, file=first.file, line=first.line, step=first.step, fix=first.fix
        )
        self.problems = list(problems)

    def render(self) -> str:
        return "\n".join(p.as_error().render() for p in self.problems)


def _display_path(path: str) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class RunnerError(GrangeError):
    """A bad argument to ``Runner``/``NBRunner`` (an unknown option, a value that is not
    JSON-able, no flow in the notebook cell). The flow's own errors are a failed
    ``ExecutingRun`` instead, with the command's output."""

    exit_code = 2
    headline = "Cannot start the run"


class HarnessError(GrangeError):
    """``grange.testing`` was asked for what it cannot do: a step the flow does not
    have, an input that cannot be pickled, inputs of the wrong shape for the step."""

    exit_code = 2
    headline = "Cannot test the flow"


class FlowFailed(HarnessError):
    """``run_flow``: the flow could not start (a lint error, a bad parameter, a file that
    does not import). ``output`` is what its command printed."""

    headline = "The flow did not start"

    def __init__(self, message: str, *, output: str = "", **where: Any) -> None:
        super().__init__(message, **where)
        self.output = output


class StepFailed(HarnessError):
    """``run_step``: the step raised. ``traceback`` is the user's traceback as a run
    prints it, ``exception`` the recorded exception (``type``, ``message``,
    ``traceback``), ``result`` the artifacts the step had set when it failed."""

    headline = "The step failed"

    def __init__(
        self,
        message: str,
        *,
        traceback: str = "",
        exception: dict[str, Any] | None = None,
        result: Any = None,
        **where: Any,
    ) -> None:
        super().__init__(message, **where)
        self.traceback = traceback
        self.exception = exception or {}
        self.result = result
