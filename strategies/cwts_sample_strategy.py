"""CwtsSampleStrategy: EMA cross filtered by RSI and order-book imbalance, on the CWTS engine.

Copy it and change the rules. Indicators come from cwts_bridge.ta — TA-Lib's functions on the
engine's kernels: `import talib.abstract as ta` works the same, this is the one line that differs.
The order-book filter reads the engine's book through shared memory (live / dry-run only)."""
from __future__ import annotations

import cwts_bridge.ta as ta
from pandas import DataFrame

from cwts_strategy import CwtsStrategy


class CwtsSampleStrategy(CwtsStrategy):
    timeframe = "1m"
    minimal_roi = {"0": 0.01}
    stoploss = -0.02
    startup_candle_count = 30
    process_only_new_candles = True
    # Imbalance threshold: enter only when bids outweigh asks by this much (live only).
    min_imbalance = -0.2

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_fast"] = ta.EMA(dataframe, timeperiod=5)
        dataframe["ema_slow"] = ta.EMA(dataframe, timeperiod=20)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        imbalance = self.book_imbalance(metadata["pair"])
        dataframe["imbalance"] = 0.0 if imbalance is None else imbalance
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        cross_up = (dataframe["ema_fast"] > dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) <= dataframe["ema_slow"].shift(1))
        dataframe.loc[cross_up & (dataframe["rsi"] < 70) & (dataframe["imbalance"] >= self.min_imbalance),
                      ["enter_long", "enter_tag"]] = (1, "ema_cross")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        cross_down = (dataframe["ema_fast"] < dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) >= dataframe["ema_slow"].shift(1))
        dataframe.loc[cross_down | (dataframe["rsi"] > 80), ["exit_long", "exit_tag"]] = (1, "ema_cross_down")
        return dataframe
