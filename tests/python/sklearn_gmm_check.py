#!/usr/bin/python3
"""scikit-learn's side of the GMM cross-check (tests/models/test_gmm_sklearn.cpp).

Usage: sklearn_gmm_check.py IN.json OUT.json
IN:  {"X": [[...], ...], "cases": [{"covariance_type", "max_iter", "reg_covar",
      "weights_init", "means_init", "means_shape",
      "precisions_init", "precisions_shape"}, ...]}   (arrays flat, row-major)
OUT: {"results": [{"covariance_type", "max_iter", "lower_bound", "score", "n_iter",
      "weights", "means", "covariances"}, ...]}   (one per case, same order)
"""
import json
import os
import sys
import warnings

from peer import need

need("sklearn", "python3-sklearn")  # exit 77 if not installed; a broken install raises
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        spec = json.load(f)
    X = np.asarray(spec["X"], dtype=np.float64)
    results = []
    for case in spec["cases"]:
        gm = GaussianMixture(
            n_components=len(case["weights_init"]),
            covariance_type=case["covariance_type"],
            tol=0.0,  # never converged early: exactly max_iter EM iterations
            reg_covar=case["reg_covar"],
            max_iter=case["max_iter"],
            n_init=1,
            weights_init=np.asarray(case["weights_init"]),
            means_init=np.asarray(case["means_init"]).reshape(case["means_shape"]),
            precisions_init=np.asarray(case["precisions_init"]).reshape(case["precisions_shape"]),
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        results.append({
            "covariance_type": case["covariance_type"],
            "max_iter": case["max_iter"],
            "lower_bound": float(gm.lower_bound_),
            "score": float(gm.score(X)),
            "n_iter": int(gm.n_iter_),
            "weights": gm.weights_.tolist(),
            "means": gm.means_.tolist(),
            "covariances": np.asarray(gm.covariances_).ravel().tolist(),
        })
    tmp = dst + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"results": results}, f)
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
