"""eddy from Python, scikit-learn's partial_fit (batches of 1024) and River's learn_one
loop on the same generated streams, in one run: prequential accuracy (each record
predicted before it is learned; scikit-learn per batch) and records per second.

Run it with ``bash benches/python_compare.sh`` (which installs the pinned peers and a
release build of eddy's package). ``--records N`` sets the stream length, ``--river-records N``
River's share of it (its loop is the slow one).
"""

import argparse
import time

import numpy as np
from river import cluster, linear_model, multiclass, naive_bayes, optim, tree
from sklearn import cluster as sk_cluster
from sklearn import linear_model as sk_linear
from sklearn import naive_bayes as sk_nb

import eddy

BATCH = 1024


def stream(n, d=16, k=4, seed=7):
    """Gaussian classes with overlapping tails: learnable, not separable."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    X = centres[y] + rng.normal(size=(n, d)) * 3.0
    return X, y


def timed(f):
    start = time.perf_counter()
    result = f()
    return result, time.perf_counter() - start


def run_eddy(est, X, y):
    def go():
        out = [est.learn_predict(X[s : s + BATCH], None if y is None else y[s : s + BATCH]) for s in range(0, len(X), BATCH)]
        return np.concatenate(out)
    return timed(go)


def run_sklearn(est, X, y, classes):
    def go():
        out = []
        for s in range(0, len(X), BATCH):
            rows = X[s : s + BATCH]
            if y is None:
                if s:
                    out.append(est.predict(rows))
                est.partial_fit(rows)
                if not s:
                    out.append(est.predict(rows))
            else:
                out.append(est.predict(rows) if s else np.full(len(rows), -1))
                est.partial_fit(rows, y[s : s + BATCH], classes=classes)
        return np.concatenate(out)
    return timed(go)


def run_river(model, X, y):
    names = [f"x{j}" for j in range(X.shape[1])]

    def go():
        out = []
        for i, row in enumerate(X):
            x = dict(zip(names, row.tolist()))
            if y is None:
                model.learn_one(x)
                out.append(model.predict_one(x))
            else:
                p = model.predict_one(x)
                out.append(-1 if p is None else p)
                model.learn_one(x, int(y[i]))
        return np.asarray(out)
    return timed(go)


def accuracy(predicted, y):
    return float((np.asarray(predicted) == y).mean())


def inertia(labels, X):
    """Mean squared distance of each record to the mean of its cluster (a common yardstick)."""
    labels = np.asarray(labels)
    total = 0.0
    for c in np.unique(labels):
        rows = X[labels == c]
        total += ((rows - rows.mean(axis=0)) ** 2).sum()
    return total / len(X)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--river-records", type=int, default=20_000)
    args = parser.parse_args()
    X, y = stream(args.records)
    classes = np.unique(y)
    Xr, yr = X[: args.river_records], y[: args.river_records]
    rows = []

    def classifier(name, ours, theirs, river_model):
        labels, t = run_eddy(ours, X, y)
        line = [name, accuracy(labels, y), len(X) / t, accuracy(labels[: len(yr)], yr)]
        if theirs is not None:
            labels, ts = run_sklearn(theirs, X, y, classes)
            line += [accuracy(labels, y), len(X) / ts]
        else:
            line += [None, None]
        if river_model is not None:
            labels, tr = run_river(river_model, Xr, yr)
            line += [accuracy(labels, yr), len(Xr) / tr]
        else:
            line += [None, None]
        rows.append(line)

    classifier(
        "logistic SGD (constant 0.01)",
        eddy.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, alpha=0.0),
        sk_linear.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, alpha=0.0),
        None,
    )
    classifier(
        "River's LogisticRegression as eddy spells it",
        eddy.Model("sgd(loss=log_loss, learning_rate=constant, eta0=0.01, alpha=0)"),
        None,
        multiclass.OneVsRestClassifier(linear_model.LogisticRegression(optimizer=optim.SGD(0.01))),
    )
    classifier("Perceptron", eddy.Perceptron(), sk_linear.Perceptron(), multiclass.OneVsRestClassifier(linear_model.Perceptron()))
    classifier("hinge SGD", eddy.SGDClassifier(), sk_linear.SGDClassifier(), None)
    classifier("Gaussian NB", eddy.GaussianNB(), sk_nb.GaussianNB(), naive_bayes.GaussianNB())
    classifier("Hoeffding tree", eddy.HoeffdingTreeClassifier(), None, tree.HoeffdingTreeClassifier())

    labels, t = run_eddy(eddy.MiniBatchKMeans(n_clusters=4, n_init=1), X, None)
    line = ["mini-batch k-means (k=4)", inertia(labels, X), len(X) / t, inertia(labels[: len(Xr)], Xr)]
    labels, ts = run_sklearn(sk_cluster.MiniBatchKMeans(n_clusters=4, n_init=1, random_state=0), X, None, None)
    line += [inertia(labels, X), len(X) / ts]
    labels, tr = run_river(cluster.KMeans(n_clusters=4, seed=0), Xr, None)
    line += [inertia(labels, Xr), len(Xr) / tr]
    rows.append(line)

    fmt = lambda v, f: "-" if v is None else format(v, f)
    print(f"{args.records:,} records x 16 features, 4 classes; River on the first {args.river_records:,}, beside eddy's score on those")
    print("accuracy is prequential; for k-means the score is the mean squared distance to the cluster mean (lower is better)\n")
    print("| model | eddy score | eddy rec/s | sklearn score | sklearn rec/s | River score (eddy's) | River rec/s | eddy / sklearn | eddy / River |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, a, ra, a_first, b, rb, c, rc in rows:
        vs_sk = "-" if rb is None else f"{ra / rb:.1f}x"
        vs_river = "-" if rc is None else f"{ra / rc:.0f}x"
        print(f"| {name} | {fmt(a, '.4f')} | {ra:,.0f} | {fmt(b, '.4f')} | {fmt(rb, ',.0f')} | {fmt(c, '.4f')}{'' if c is None else f' ({a_first:.4f})'} | {fmt(rc, ',.0f')} | {vs_sk} | {vs_river} |")


if __name__ == "__main__":
    main()
