"""A flow that imports a module of its own directory, as flows in a project do."""

import os

from helper import double

import grange
from grange import FlowSpec, step


class CodeFlow(FlowSpec):
    @step
    def start(self):
        self.value = double(21)
        self.grange_file = grange.__file__  # which grange ran: the package's, in a pod
        self.cwd = os.getcwd()
        self.package_sha = os.environ.get("GRANGE_CODE_PACKAGE_SHA")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CodeFlow()
