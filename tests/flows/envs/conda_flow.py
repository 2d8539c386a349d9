"""@conda on one step (grange-testpkg from the tests' local channel), none on the other."""

from grange import FlowSpec, conda, step


class CondaEnvFlow(FlowSpec):
    @conda(packages={"grange-testpkg": "1.0"})
    @step
    def start(self):
        import grange_testpkg

        self.version = grange_testpkg.VERSION
        self.next(self.end)

    @step
    def end(self):
        try:
            import grange_testpkg  # noqa: F401

            self.host_has_it = True
        except ImportError:
            self.host_has_it = False


if __name__ == "__main__":
    CondaEnvFlow()
