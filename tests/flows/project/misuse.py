"""Flows that misuse @project, one mistake each (tests/unit/test_flow_decorators.py)."""

from grange import FlowSpec, project, step


class Steps(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@project(name="Fraud-Detection")
class BadName(Steps):
    pass


@project
class NoName(Steps):
    pass


@project(name="x" * 129)
class LongName(Steps):
    pass


@project(name="demo", team="vision")
class UnknownArgument(Steps):
    pass


@project(name="demo", branch="My_Branch")
class BadBranch(Steps):
    pass


@project(name="a")
@project(name="b")
class Twice(Steps):
    pass


@project(name="base")
class ProjectBase(Steps):
    pass


@project(name="sub")
class OnBaseAndSubclass(ProjectBase):
    pass


class OnAStep(FlowSpec):
    @project(name="demo")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
