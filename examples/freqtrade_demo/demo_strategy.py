"""The demo's FreqTrade strategy: trades NKN/USDT through cwtsd's gateway on cwts-sim.

It enters when the engine's book (read through shared memory) leans to the bid side, and leaves
after a few seconds, so a 20-second demo shows whole trades. Not a strategy to run for money."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from pandas import DataFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "strategies"))
from cwts_strategy import CwtsStrategy  # noqa: E402


class CwtsDemoGatewayStrategy(CwtsStrategy):
    timeframe = "1m"
    minimal_roi = {"0": 100}
    stoploss = -0.05
    startup_candle_count = 0
    process_only_new_candles = False
    order_types = {"entry": "limit", "exit": "market", "stoploss": "market",
                   "stoploss_on_exchange": False}
    hold_seconds = 4

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        imbalance = self.book_imbalance(metadata["pair"])
        dataframe["imbalance"] = 0.0 if imbalance is None else imbalance
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        if len(dataframe):
            # Any lean at all on the last (live) candle: the demo wants trades, not alpha.
            dataframe.loc[dataframe.index[-1], ["enter_long", "enter_tag"]] = (
                1, "book_lean" if dataframe["imbalance"].iloc[-1] >= 0 else "demo")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        if current_time - trade.open_date_utc >= timedelta(seconds=self.hold_seconds):
            return "demo_hold_time"
        return None
