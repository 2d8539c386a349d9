"""@secrets: a step reads its secrets from the environment, prints them (masked),
hands them to a subprocess, and (per $LEAK) tries to leak one.

$SECRET_SOURCES (JSON) are the sources; $LEAK picks the leak: ``artifact``,
``nested`` (inside a dict), ``foreach`` (an item), ``exception`` (in a message),
``catch`` (an exception that @catch keeps), or ``crash`` (a segfault);
$FAIL_FIRST=1 fails attempt 0.
"""

import hashlib
import json
import os
import subprocess
import sys

from grange import FlowSpec, catch, current, retry, secrets, step

SOURCES = json.loads(os.environ.get("SECRET_SOURCES", '["local-file.db"]'))
LEAK = os.environ.get("LEAK", "")


class SecretsFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @secrets(sources=SOURCES)
    @step
    def start(self):
        password = os.environ["DB_PASSWORD"]
        self.password_sha = hashlib.sha256(password.encode()).hexdigest()
        self.attempt = current.retry_count
        print("password is", password, flush=True)
        print(repr({"pw": password}), file=sys.stderr, flush=True)
        os.write(1, f"raw fd write {password}\n".encode())
        subprocess.run(
            [sys.executable, "-c", "import os; print('child sees', os.environ['DB_PASSWORD'])"],
            check=True,
        )
        if os.environ.get("FAIL_FIRST") == "1" and current.retry_count == 0:
            raise RuntimeError(f"attempt 0 fails with {password}")
        if LEAK == "artifact":
            self.copy = password
        elif LEAK == "nested":
            self.config = {"db": {"password": password, "port": 5432}}
        elif LEAK == "exception":
            raise ValueError("cannot connect with " + password)
        elif LEAK == "crash":  # a crash in C code: its Python stack still reaches the log
            import ctypes

            ctypes.string_at(0)
        self.next(self.guarded)

    @catch(var="caught", print_exception=True)
    @secrets(sources=SOURCES)
    @step
    def guarded(self):
        if LEAK == "catch":
            raise ValueError("caught with " + os.environ["DB_PASSWORD"])
        self.next(self.fan)

    @secrets(sources=SOURCES)
    @step
    def fan(self):
        self.items = [os.environ["DB_PASSWORD"]] if LEAK == "foreach" else [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.seen_here = "DB_PASSWORD" in os.environ  # only the step with @secrets has it
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = [i.seen_here for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecretsFlow()
