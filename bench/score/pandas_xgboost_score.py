#!/usr/bin/env python3
"""The Python baseline for the scoring benchmark: pandas reads the raw Give Me Some Credit-shaped file,
applies the same normalization as the contract (NA and the 96/98 past-due codes become missing), XGBoost's
own predictor scores it with the same model (saved as XGBoost JSON), and pandas writes id, probability,
risk band and model. Prints one JSON line: seconds (total and predict), peak RSS, rows.

Usage: pandas_xgboost_score.py INPUT.csv MODEL.json OUTPUT.csv MODEL_ID
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

started = time.perf_counter()
source, model_path, output, model_id = sys.argv[1:5]
FEATURES = ["RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30-59DaysPastDueNotWorse", "DebtRatio",
            "MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate",
            "NumberRealEstateLoansOrLines", "NumberOfTime60-89DaysPastDueNotWorse", "NumberOfDependents"]
PAST_DUE = ["NumberOfTime30-59DaysPastDueNotWorse", "NumberOfTimes90DaysLate", "NumberOfTime60-89DaysPastDueNotWorse"]

frame = pd.read_csv(source, na_values=["NA", ""])
frame = frame.rename(columns={frame.columns[0]: "id"})
frame[PAST_DUE] = frame[PAST_DUE].where(~frame[PAST_DUE].isin([96, 98]))
features = frame[FEATURES].to_numpy(dtype=np.float32)

booster = xgb.Booster(model_file=model_path)
booster.set_param({"nthread": 2})
predict_started = time.perf_counter()
probability = booster.inplace_predict(features, missing=np.nan)
predict_seconds = time.perf_counter() - predict_started

bands = np.array(["A", "B", "C", "D", "E"])[np.searchsorted([0.02, 0.05, 0.10, 0.20], probability, side="right")]
pd.DataFrame({"id": frame["id"], "probability_of_default": probability, "risk_band": bands, "model": model_id}).to_csv(output, index=False)

print(json.dumps({"side": f"pandas {pd.__version__} + XGBoost {xgb.__version__}", "rows": len(frame),
                  "seconds": time.perf_counter() - started, "predictSeconds": predict_seconds,
                  "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
