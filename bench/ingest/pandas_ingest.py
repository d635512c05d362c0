#!/usr/bin/env python3
"""The pandas baseline for the ingest benchmark: the same validations and outputs as FinServerless's ingest
of a Give Me Some Credit-shaped file (samples/give-me-some-credit/contract.json), written the way a risk
team's script would be. Prints one JSON line: seconds, peak RSS, rows.

Usage: pandas_ingest.py INPUT.csv OUTDIR
"""
import hashlib
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

started = time.perf_counter()
source, out = sys.argv[1], sys.argv[2]
run = os.path.join(out, "curated", "demo", "give-me-some-credit", "pandas")
quarantine = os.path.join(out, "quarantine", "demo", "give-me-some-credit", "pandas")
os.makedirs(run, exist_ok=True)
os.makedirs(quarantine, exist_ok=True)

# Contract: (name, kind, min, max, allowed, sentinels meaning missing, nullable)
PAST_DUE = {"96", "98"}
CONTRACT = [
    ("", "int", 1, None, None, None, False),
    ("SeriousDlqin2yrs", "int", None, None, {0, 1}, None, True),
    ("RevolvingUtilizationOfUnsecuredLines", "float", 0, None, None, None, True),
    ("age", "int", 18, 120, None, None, True),
    ("NumberOfTime30-59DaysPastDueNotWorse", "int", 0, 20, None, PAST_DUE, True),
    ("DebtRatio", "float", 0, None, None, None, True),
    ("MonthlyIncome", "float", 0, None, None, None, True),
    ("NumberOfOpenCreditLinesAndLoans", "int", 0, None, None, None, True),
    ("NumberOfTimes90DaysLate", "int", 0, 20, None, PAST_DUE, True),
    ("NumberRealEstateLoansOrLines", "int", 0, None, None, None, True),
    ("NumberOfTime60-89DaysPastDueNotWorse", "int", 0, 20, None, PAST_DUE, True),
    ("NumberOfDependents", "int", 0, 30, None, None, True),
]

sha = hashlib.sha256()
with open(source, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        sha.update(chunk)

raw = pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False)
raw.columns = ["" if c.startswith("Unnamed: 0") else c for c in raw.columns]  # the file's unnamed id column
n = len(raw)
failures = []          # (row index, column, rule, detail)
clean = {}
for name, kind, lo, hi, allowed, sentinels, nullable in CONTRACT:
    text = raw[name]
    missing = text.isin(["", "NA"])
    if sentinels:
        missing |= text.isin(sentinels)
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    bad_type = values.isna() & ~missing
    if kind == "int":
        bad_type |= values.notna() & (values != np.floor(values))
    rule = pd.Series(np.where(bad_type, "type", ""), index=raw.index)
    if not nullable:
        rule = rule.mask(missing, "not_null")
    ok = ~bad_type & ~missing
    if lo is not None:
        rule = rule.mask(ok & (values < lo), "min")
    if hi is not None:
        rule = rule.mask(ok & (values > hi), "max")
    if allowed is not None:
        rule = rule.mask(ok & ~values.isin(allowed), "allowed")
    for i in np.flatnonzero(rule.to_numpy() != ""):
        failures.append((i, name, rule.iat[i], text.iat[i]))
    clean[name or "id"] = values.where(~missing)

rejected_rows = sorted({f[0] for f in failures})
accepted = pd.DataFrame(clean).drop(index=rejected_rows)
int_columns = [(name or "id") for name, kind, *_ in CONTRACT if kind == "int"]
for column in int_columns:
    accepted[column] = accepted[column].astype("Int64")

part = os.path.join(run, "part-00000.csv")
accepted.to_csv(part, index=False)
part_sha = hashlib.sha256(open(part, "rb").read()).hexdigest()

with open(os.path.join(quarantine, "rejected.csv"), "w") as f:
    f.write("row,line,column,rule,value\n")
    for i, column, rule, value in failures:
        v = "'" + value if value[:1] in ("=", "+", "-", "@") else value
        f.write(f"{i + 1},{i + 2},{column},{rule},{v}\n")

profile = []
for column in accepted.columns[1:]:
    v = accepted[column].astype("float64")
    q = v.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    profile.append({"name": column, "count": int(v.count()), "nulls": int(v.isna().sum()), "min": float(v.min()),
                    "max": float(v.max()), "mean": float(v.mean()), "std": float(v.std(ddof=0)),
                    "quantiles": {f"p{int(k * 100):02d}": float(x) for k, x in q.items()}})
by_rule = {}
for _, _, rule, _ in failures:
    by_rule[rule] = by_rule.get(rule, 0) + 1
with open(os.path.join(quarantine, "report.json"), "w") as f:
    json.dump({"rows": {"read": n, "accepted": len(accepted), "rejected": len(rejected_rows)},
               "successPercent": 100.0 * len(accepted) / n, "failuresByRule": by_rule}, f, indent=2)
with open(os.path.join(run, "_manifest.json"), "w") as f:
    json.dump({"input": {"path": source, "sha256": sha.hexdigest()},
               "rows": {"read": n, "accepted": len(accepted), "rejected": len(rejected_rows)},
               "parts": [{"path": part, "rows": len(accepted), "sha256": part_sha}], "profile": profile}, f, indent=2)

seconds = time.perf_counter() - started
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"side": f"pandas {pd.__version__}", "rowsRead": n, "rowsAccepted": len(accepted),
                  "rowsRejected": len(rejected_rows), "seconds": seconds, "peakRssMiB": peak_mib,
                  "inputBytes": os.path.getsize(source)}))
