"""No @secrets of its own: ``--with secrets:sources=...`` gives every step the secret."""

import hashlib
import os
import sys

from grange import FlowSpec, step


def digest() -> str | None:
    value = os.environ.get("DB_PASSWORD")
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.start_sha = digest()
        # Steps without @secrets import nothing of it (nothing on their hot path).
        self.secrets_imported = "grange.secret_sources.output" in sys.modules
        print("start sees", os.environ.get("DB_PASSWORD"))
        self.next(self.end)

    @step
    def end(self):
        self.end_sha = digest()


if __name__ == "__main__":
    PlainFlow()
