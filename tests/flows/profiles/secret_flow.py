"""A flow whose step reads a secret from the profile's default provider."""

import os

from grange import FlowSpec, secrets, step


class SecretFlow(FlowSpec):
    @secrets(sources=["PROD_DB"])
    @step
    def start(self):
        self.got_password = bool(os.environ.get("DB_PASSWORD"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecretFlow()
