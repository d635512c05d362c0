#!/usr/bin/env python3
"""Writes loans.csv: a synthetic consumer-loan book for the loan-book sample (no real person or loan in it).

Each loan gets a true probability of default from a logistic model of its features; loans issued long enough before
the book date have an outcome (Fully Paid, Charged Off or Default), the others are still running (Current, In Grace
Period, Late). A few rows carry a status the contract does not map, as exported books often do, and are quarantined.
Deterministic: the same seed writes the same bytes.  Usage: python3 generate.py [ROWS] > loans.csv
"""
import csv
import math
import random
import sys
from datetime import date

BOOK_DATE = date(2026, 12, 1)
PURPOSES = [("debt_consolidation", 46), ("credit_card", 20), ("home_improvement", 7), ("other", 6), ("major_purchase", 5),
            ("small_business", 4), ("car", 3), ("medical", 2), ("moving", 2), ("vacation", 1.5), ("house", 1),
            ("wedding", 1), ("renewable_energy", 0.3), ("educational", 0.2)]
HOMES = [("MORTGAGE", 48), ("RENT", 40), ("OWN", 11), ("OTHER", 0.7), ("NONE", 0.3)]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def months_between(a, b):
    return (b.year - a.year) * 12 + b.month - a.month


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    rng = random.Random(20261207)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["loan_id", "issue_d", "earliest_cr_line", "loan_amnt", "term", "int_rate", "purpose", "home_ownership",
                  "annual_inc", "dti", "delinq_2yrs", "revol_util", "applicant_age", "loan_status"])
    for i in range(1, rows + 1):
        issued = date(2021 + rng.randrange(0, 6), rng.randrange(1, 13), rng.randrange(1, 29))
        if issued >= BOOK_DATE:
            issued = date(2024, 6, 15)
        age = rng.randrange(21, 76)
        first_line_years = max(1, min(age - 18, int(rng.expovariate(1 / 12)) + 1))
        first_line = date(issued.year - first_line_years, rng.randrange(1, 13), 1)
        term = "60 months" if rng.random() < 0.28 else "36 months"
        income = round(math.exp(rng.gauss(11.0, 0.55)), -2)
        dti = round(min(45.0, max(0.0, rng.gauss(18, 8))), 2)
        delinq = min(12, int(rng.expovariate(3.0)))
        revol = "" if rng.random() < 0.03 else f"{min(120.0, max(0.0, rng.gauss(52, 24))):.1f}"
        purpose = rng.choices([p for p, _ in PURPOSES], [w for _, w in PURPOSES])[0]
        home = rng.choices([h for h, _ in HOMES], [w for _, w in HOMES])[0]
        amount = round(min(40000, max(1000, rng.lognormvariate(9.3, 0.6))), -2)
        # The lender prices risk: the rate rises with debt-to-income, delinquencies and term, with noise.
        rate = round(min(30.9, max(5.3, 7 + 0.18 * dti + 2.2 * delinq + (3 if term == "60 months" else 0) + rng.gauss(3, 3))), 2)
        logit = (-2.6 + 0.2 * (rate - 12) + 0.05 * (dti - 18) + 0.4 * delinq
                 + (0.025 * (float(revol) - 50) if revol else 0.4)
                 + (0.6 if term == "60 months" else 0) + (1.0 if purpose == "small_business" else 0)
                 + (0.4 if home == "RENT" else 0) - 0.8 * (math.log(income) - 11)
                 - 0.03 * months_between(first_line, issued) / 12 + 0.2 * (amount / 10000))
        pd = 1 / (1 + math.exp(-logit))
        on_book = months_between(issued, BOOK_DATE)
        term_months = 60 if term == "60 months" else 36
        if rng.random() < min(1.0, on_book / term_months) ** 1.5:
            status = ("Charged Off" if rng.random() < 0.85 else "Default") if rng.random() < pd else "Fully Paid"
        else:
            late = rng.random()
            status = "Late (31-120 days)" if late < pd * 0.3 else "In Grace Period" if late < pd * 0.45 else "Current"
        if rng.random() < 0.003:
            status = "Does not meet the credit policy. Status:" + status
        out.writerow([f"L{i:06d}", issued.isoformat(), f"{MONTHS[first_line.month - 1]}-{first_line.year}", f"{amount:.2f}", term,
                      f"{rate:.2f}", purpose, home, f"{income:.2f}", f"{dti:.2f}", delinq, revol, age, status])


if __name__ == "__main__":
    main()
