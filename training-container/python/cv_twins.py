#!/usr/bin/python3
"""Python twins of FinServerless's trainers, for the training benchmark.

Reads the matrix and the fold plan the benchmark wrote (same rows, same folds, same early-stopping rows, same
XGBoost parameters per fold) and trains, fold by fold:
  xgboost          python3-xgboost (the same libxgboost as ours), early stopping on the stop rows' AUC
  mlp              python3-torch: same preparation (median impute, quantile clip, standardize), layers,
                   dropout, Adam, BCE on logits, batch size, epochs and patience as ours
  logistic_raw     python3-sklearn LogisticRegression on median-imputed, standardized features
  logistic_log1p   the same after sign(x)·log1p(|x|)
The XGBoost and MLP twins' probabilities are calibrated as ours are: Platt scaling fitted on the fold's stop rows
(scikit-learn's LogisticRegression on their logit, unpenalized); the logistic twins are used as they come.
Prints one JSON line: per twin, the AUC, Brier score and expected calibration error (ten equal-count bins) of each
fold on its test rows, and the seconds spent training and predicting (data loading excluded).
"""
import argparse
import json
import time

import numpy as np


def load(path):
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float32, filling_values=np.nan)
    return data[:, :-1], data[:, -1]


def auc(y, p):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p))


def platt(stop_p, stop_y, test_p):
    """Platt scaling: a logistic regression of the stop rows' labels on the logit of their predictions."""
    from sklearn.linear_model import LogisticRegression

    def logit(p):
        p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p)).reshape(-1, 1)

    model = LogisticRegression(C=1e10, max_iter=1000).fit(logit(stop_p), stop_y)
    return model.predict_proba(logit(test_p))[:, 1]


def scores(y, p):
    """AUC, Brier score and ECE over ten equal-count bins of the predictions (as the C# side bins them)."""
    from sklearn.metrics import brier_score_loss
    order = np.argsort(p, kind="stable")
    n = len(p)
    ece = 0.0
    for d in range(10):
        idx = order[n * d // 10:n * (d + 1) // 10]
        if idx.size:
            ece += idx.size * abs(float(np.mean(p[idx])) - float(np.mean(y[idx])))
    return {"auc": auc(y, p), "brier": float(brier_score_loss(y, p)), "ece": ece / n}


def run_xgboost(x, y, fold, threads):
    import xgboost as xgb
    params = dict(fold["xgboost"])
    params["nthread"] = threads
    rounds = int(params.pop("num_boost_round"))
    patience = int(params.pop("early_stopping_rounds"))
    fit, stop, test = (np.array(fold[k]) for k in ("fit", "stop", "test"))
    dfit = xgb.DMatrix(x[fit], label=y[fit], missing=np.nan)
    dstop = xgb.DMatrix(x[stop], label=y[stop], missing=np.nan)
    booster = xgb.train(params, dfit, rounds, evals=[(dstop, "valid")], early_stopping_rounds=patience, verbose_eval=False)
    best = (0, booster.best_iteration + 1)
    p = booster.predict(xgb.DMatrix(x[test], missing=np.nan), iteration_range=best)
    p_stop = booster.predict(dstop, iteration_range=best)
    return scores(y[test], platt(p_stop, y[stop], p))


def prepare(x_fit, q):
    median, low, high = [], [], []
    for j in range(x_fit.shape[1]):
        v = x_fit[:, j]
        v = v[~np.isnan(v)]
        if v.size == 0:
            median.append(0.0), low.append(0.0), high.append(0.0)
            continue
        median.append(np.quantile(v, 0.5)), low.append(np.quantile(v, q)), high.append(np.quantile(v, 1 - q))
    median, low, high = (np.array(a, dtype=np.float32) for a in (median, low, high))

    def clip(x):
        return np.minimum(np.maximum(np.where(np.isnan(x), median, x), low), high)

    c = clip(x_fit).astype(np.float64)
    mean = c.mean(axis=0).astype(np.float32)
    std = c.std(axis=0)
    scale = np.where(std > 1e-12, std, 1.0).astype(np.float32)
    return lambda x: ((clip(x) - mean) / scale).astype(np.float32)


def run_mlp(x, y, fold, cfg, seed):
    import torch
    fit, stop, test = (np.array(fold[k]) for k in ("fit", "stop", "test"))
    prep = prepare(x[fit], cfg["clip_quantile"])
    xf, xs, xt = (torch.from_numpy(prep(x[i])) for i in (fit, stop, test))
    yf = torch.from_numpy(y[fit]).reshape(-1, 1)
    torch.manual_seed(seed)
    layers, width = [], x.shape[1]
    for h in cfg["hidden"]:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if cfg["dropout"] > 0:
            layers.append(torch.nn.Dropout(cfg["dropout"]))
        width = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=cfg["learning_rate"], weight_decay=cfg["weight_decay"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best_auc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, cfg["epochs"] + 1):
        net.train()
        order = torch.randperm(xf.shape[0])
        for start in range(0, xf.shape[0], cfg["batch_size"]):
            idx = order[start:start + cfg["batch_size"]]
            loss = loss_fn(net(xf[idx]), yf[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            a = auc(y[stop], torch.sigmoid(net(xs)).numpy().ravel())
        if a > best_auc:
            best_auc, best_epoch = a, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= cfg["patience"]:
            break
    net.load_state_dict(best_state)
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(net(xt)).numpy().ravel()
        p_stop = torch.sigmoid(net(xs)).numpy().ravel()
    return scores(y[test], platt(p_stop, y[stop], p))


def run_logistic(x, y, fold, log1p):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    train = np.concatenate([np.array(fold["fit"]), np.array(fold["stop"])])
    test = np.array(fold["test"])
    median = np.nanmedian(x[train], axis=0)

    def tf(a):
        a = np.where(np.isnan(a), median, a)
        return np.sign(a) * np.log1p(np.abs(a)) if log1p else a

    scaler = StandardScaler().fit(tf(x[train]))
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(tf(x[train])), y[train])
    return scores(y[test], model.predict_proba(scaler.transform(tf(x[test])))[:, 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--only", default="xgboost,mlp,logistic_raw,logistic_log1p")
    args = ap.parse_args()
    x, y = load(args.data)
    plan = json.load(open(args.plan))
    import torch
    torch.set_num_threads(plan["threads"]["mlp"])
    result = {}
    for twin in args.only.split(","):
        started, folds = time.perf_counter(), []
        for fold in plan["folds"]:
            if twin == "xgboost":
                folds.append(run_xgboost(x, y, fold, plan["threads"]["xgboost"]))
            elif twin == "mlp":
                folds.append(run_mlp(x, y, fold, plan["mlp"], plan["seed"]))
            else:
                folds.append(run_logistic(x, y, fold, twin == "logistic_log1p"))
        result[twin] = {k: [f[k] for f in folds] for k in ("auc", "brier", "ece")}
        result[twin]["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


if __name__ == "__main__":
    main()
