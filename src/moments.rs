//! Running per-feature mean and variance, merged batch by batch.
//!
//! The merge is Chan, Golub and LeVeque's pairwise update (the one scikit-learn's
//! `GaussianNB._update_mean_variance` uses): numerically stable, exact for any
//! split of the data up to rounding, and O(d) for a single row.

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayViewMut1, Axis};
use serde::{Deserialize, Serialize};

/// Count, mean and population variance of each feature over the rows seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Rows seen.
    pub count: f64,
    /// Mean of each feature.
    pub mean: Array1<f64>,
    /// Population variance (divided by `count`) of each feature.
    pub var: Array1<f64>,
}

impl Moments {
    /// True when every number of the state is finite: a value so large that the
    /// arithmetic overflowed leaves an infinity or a NaN behind.
    pub fn state_is_finite(&self) -> bool {
        self.count.is_finite() && all_finite(&self.mean) && all_finite(&self.var)
    }
    /// No rows yet, `d` features.
    pub fn new(d: usize) -> Self {
        Self { count: 0.0, mean: Array1::zeros(d), var: Array1::zeros(d) }
    }

    /// Merge a batch of rows.
    pub fn update_batch(&mut self, x: ArrayView2<f64>) {
        let n = x.nrows();
        if n == 0 {
            return;
        }
        let (mu, var) = batch_mean_var(x);
        merge(self.count, self.mean.view_mut(), self.var.view_mut(), n as f64, mu.view(), var.view());
        self.count += n as f64;
    }

    /// Merge one row.
    pub fn update_row(&mut self, x: ArrayView1<f64>) {
        merge_row(self.count, self.mean.view_mut(), self.var.view_mut(), x);
        self.count += 1.0;
    }

    /// Forget a little, then merge one row: every earlier row's weight is multiplied
    /// by `decay` and the new row weighs 1, so `count` becomes the total weight.
    /// Scaling every weight leaves the mean and the (weighted, population) variance
    /// as they are, so this is [`merge_row`] with a fractional past count: West's
    /// weighted update, exponentially weighted.
    pub fn update_row_decayed(&mut self, x: ArrayView1<f64>, decay: f64) {
        self.count *= decay;
        self.update_row(x);
    }
}

/// The rows `later` has that `earlier` had not, as moments of their own: Chan's merge
/// run backwards. `earlier` must be an earlier state of the same running moments
/// (`later = earlier` merged with the rows since), so the difference is exact up to
/// rounding. Used to fold what a replica learned since a shared state into another.
pub fn since(later: &Moments, earlier: &Moments) -> Moments {
    let n_new = later.count - earlier.count;
    if earlier.count == 0.0 || n_new <= 0.0 {
        return if n_new > 0.0 { later.clone() } else { Moments::new(later.mean.len()) };
    }
    let (n_past, n_total) = (earlier.count, later.count);
    let cross = n_new * n_past / n_total;
    let mut delta = Moments::new(later.mean.len());
    delta.count = n_new;
    for i in 0..later.mean.len() {
        let m = (n_total * later.mean[i] - n_past * earlier.mean[i]) / n_new;
        let d = earlier.mean[i] - m;
        let ssd = n_total * later.var[i] - n_past * earlier.var[i] - cross * d * d;
        delta.mean[i] = m;
        // Rounding can leave a tiny negative sum of squares where the new rows agree.
        delta.var[i] = (ssd / n_new).max(0.0);
    }
    delta
}

impl Moments {
    /// Merge the rows summarised by `other` (same features) into these.
    pub fn absorb(&mut self, other: &Moments) {
        merge(self.count, self.mean.view_mut(), self.var.view_mut(), other.count, other.mean.view(), other.var.view());
        self.count += other.count;
    }
}

/// The per-record weight decay of a `halflife` in records: `0.5^(1 / halflife)`, so a
/// record's weight halves after `halflife` more records. 1 (no decay) for 0, "off".
pub fn decay_per_record(halflife: f64) -> f64 {
    if halflife > 0.0 {
        0.5f64.powf(1.0 / halflife)
    } else {
        1.0
    }
}

/// Mean and population variance of each column (two passes, as `np.var`).
pub(crate) fn batch_mean_var(x: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    let mean = x.sum_axis(Axis(0)) / n;
    let mut var = Array1::zeros(x.ncols());
    for row in x.outer_iter() {
        for ((v, &xi), &m) in var.iter_mut().zip(row.iter()).zip(mean.iter()) {
            let d: f64 = xi - m;
            *v += d * d;
        }
    }
    var /= n;
    (mean, var)
}

/// Merge `n_new` rows with mean `new_mu` and variance `new_var` into the
/// running `(n_past, mu, var)`. The caller adds `n_new` to its count.
pub(crate) fn merge(
    n_past: f64,
    mut mu: ArrayViewMut1<f64>,
    mut var: ArrayViewMut1<f64>,
    n_new: f64,
    new_mu: ArrayView1<f64>,
    new_var: ArrayView1<f64>,
) {
    if n_new == 0.0 {
        return;
    }
    if n_past == 0.0 {
        mu.assign(&new_mu);
        var.assign(&new_var);
        return;
    }
    let n_total = n_past + n_new;
    let cross = n_new * n_past / n_total;
    for (((m, v), &nm), &nv) in mu.iter_mut().zip(var.iter_mut()).zip(new_mu.iter()).zip(new_var.iter()) {
        let total_ssd = n_past * *v + n_new * nv + cross * (*m - nm) * (*m - nm);
        *m = (n_new * nm + n_past * *m) / n_total;
        *v = total_ssd / n_total;
    }
}

/// [`merge`] for a single row (mean `x`, variance 0), without temporaries.
pub(crate) fn merge_row(n_past: f64, mut mu: ArrayViewMut1<f64>, mut var: ArrayViewMut1<f64>, x: ArrayView1<f64>) {
    if n_past == 0.0 {
        mu.assign(&x);
        var.fill(0.0);
        return;
    }
    let n_total = n_past + 1.0;
    let cross = n_past / n_total;
    let step = |m: &mut f64, v: &mut f64, xi: f64| {
        let total_ssd = n_past * *v + cross * (*m - xi) * (*m - xi);
        *m = (xi + n_past * *m) / n_total;
        *v = total_ssd / n_total;
    };
    // Over plain slices the divisions vectorise: this runs for every row a
    // Gaussian NB learns, and was a quarter of its prequential step.
    match (mu.as_slice_mut(), var.as_slice_mut(), x.as_slice()) {
        (Some(mu), Some(var), Some(x)) => {
            for ((m, v), &xi) in mu.iter_mut().zip(var.iter_mut()).zip(x) {
                step(m, v, xi);
            }
        }
        _ => {
            for ((m, v), &xi) in mu.iter_mut().zip(var.iter_mut()).zip(x.iter()) {
                step(m, v, xi);
            }
        }
    }
}

/// True when every value is finite.
pub(crate) fn all_finite<'a, D: ndarray::Dimension>(a: impl Into<ndarray::ArrayView<'a, f64, D>>) -> bool {
    a.into().iter().all(|v| v.is_finite())
}
