"""start writes shards to S3, a foreach reads one each, join lists them, end checks
what S3(run=self) says about a local datastore."""

from grange import S3, FlowSpec, Parameter, step
from grange.datatools.s3 import S3URLError


class S3DataFlow(FlowSpec):
    root = Parameter("root", help="s3://bucket/prefix for the flow's data")

    @step
    def start(self):
        with S3(s3root=self.root) as s3:
            written = s3.put_many([(f"shards/{i}.txt", f"shard {i}") for i in range(4)])
        self.keys = [key for key, _ in written]
        self.next(self.read, foreach="keys")

    @step
    def read(self):
        with S3(s3root=self.root) as s3:
            obj = s3.get(self.input)
            self.text = obj.text
            self.path = obj.path
        self.next(self.join)

    @step
    def join(self, inputs):
        self.texts = sorted(i.text for i in inputs)
        self.paths = [i.path for i in inputs]
        with S3(s3root=self.root) as s3:
            self.listed = [o.key for o in s3.list_recursive(["shards"])]
        self.next(self.end)

    @step
    def end(self):
        try:
            S3(run=self)
        except S3URLError as err:
            self.run_error = err.message


if __name__ == "__main__":
    S3DataFlow()
