"""A default @card with a DataFrame artifact, Markdown, a Vega-Lite chart and hostile text."""

import pandas as pd

from grange import FlowSpec, card, current, step
from grange.cards import Markdown, VegaChart

CHART = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"month": m, "sales": s} for m, s in [("jan", 3), ("feb", 7), ("mar", 5)]]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "month", "type": "nominal"},
        "y": {"field": "sales", "type": "quantitative"},
    },
}


class UiChartCardFlow(FlowSpec):
    @card(type="default")
    @step
    def start(self):
        self.sales = pd.DataFrame({"month": ["jan", "feb", "mar"], "sales_total": [3, 7, 5]})
        self.hostile = "<script>parent.pwned = 1; window.pwned = 1</script>"
        current.card.append(Markdown("# Quarterly sales report"))
        current.card.append(VegaChart(CHART))
        print("card step done")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiChartCardFlow()
