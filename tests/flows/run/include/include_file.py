"""IncludeFile parameters: a text file (default beside the flow) and an optional binary one."""

from grange import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    notes = IncludeFile("notes", default="notes.txt", help="a text file")
    blob = IncludeFile("blob", is_text=False, help="an optional binary file")

    @step
    def start(self):
        self.seen = (self.notes, self.blob)
        self.next(self.end)

    @step
    def end(self):
        self.again = self.notes


if __name__ == "__main__":
    IncludeFileFlow()
