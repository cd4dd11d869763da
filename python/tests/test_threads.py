"""Large inputs are computed with the GIL released: another Python thread runs meanwhile."""

import threading
import time

import numpy as np

import eddy


def test_other_threads_run_while_eddy_learns_a_large_batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300_000, 16))
    y = rng.integers(0, 4, size=300_000)
    model = eddy.GaussianNB()
    model.partial_fit(X[:10], y[:10])
    span = {}

    def learn():
        span["start"] = time.perf_counter()
        model.learn_predict(X, y)
        span["end"] = time.perf_counter()

    worker = threading.Thread(target=learn)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    assert span["end"] - span["start"] > 0.05, "the batch must take long enough to see"
    margin = 0.2 * (span["end"] - span["start"])
    inside = [t for t in ticks if span["start"] + margin < t < span["end"] - margin]
    # Holding the GIL, eddy would let no tick happen inside its call.
    assert len(inside) >= 5, (len(inside), span)


def test_threads_sharing_a_model_predict_the_same():
    X = np.random.default_rng(1).normal(size=(100_000, 4))
    y = (X[:, 0] > 0).astype(int)
    model = eddy.SGDClassifier().fit(X, y)
    want = model.predict(X)
    results = [None] * 4

    def run(i):
        results[i] = model.predict(X)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)
