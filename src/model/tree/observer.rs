//! What a leaf remembers of each feature, per class, to find its best split and to
//! vote as naive Bayes: a Gaussian per class for a number (River's `GaussianSplitter`),
//! value counts per class for a category (River's `NominalSplitterClassif`).

use super::criterion::SplitCriterion;
use super::dist::Dist;
use serde::{Deserialize, Serialize};

/// `0.5 ln(2π)`, River's `_HALF_LOG_TAU`.
const HALF_LOG_TAU: f64 = 0.918_938_533_204_672_7;

/// How a branch sends a record on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Split {
    /// Left when the number is at most the threshold.
    Threshold(f64),
    /// Left when the category is this one.
    Equal(u32),
    /// One branch per category, in this order.
    Multi(Vec<u32>),
}

/// A candidate split of a leaf, River's `BranchFactory`: `split` is `None` for the null
/// split (do not split), whose merit is `-inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// How good the split is.
    pub merit: f64,
    /// The feature and how it splits, or `None` for the null split.
    pub split: Option<(u32, Split)>,
    /// The class distribution of each branch.
    pub children: Vec<Dist>,
}

impl Suggestion {
    /// The null split.
    pub fn null() -> Self {
        Self { merit: f64::NEG_INFINITY, split: None, children: Vec::new() }
    }
}

/// What a split search needs besides the observer.
pub struct SplitSearch<'a> {
    /// The criterion.
    pub criterion: SplitCriterion,
    /// The leaf's class distribution.
    pub pre: &'a Dist,
    /// The criterion's [`SplitCriterion::pre_term`] of `pre`.
    pub pre_term: f64,
    /// Branches under this share of the weight do not count.
    pub min_branch_fraction: f64,
    /// Only binary splits of categories.
    pub binary_only: bool,
    /// Candidate thresholds of a number.
    pub n_splits: usize,
    /// The label of each class id (River sorts a multiway split's classes by label).
    pub labels: &'a [i64],
    /// The text of a category code of the feature, for the order of a multiway split.
    pub text: &'a dyn Fn(u32) -> &'a str,
}

/// One class's weighted mean and variance of a feature (River's `Gaussian` on a
/// weighted `Var(ddof=1)`), with the least and largest value seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassGaussian {
    class: u32,
    n: f64,
    mean: f64,
    s: f64,
    min: f64,
    max: f64,
}

impl ClassGaussian {
    fn variance(&self) -> f64 {
        if self.n > 1.0 {
            self.s / (self.n - 1.0)
        } else {
            0.0
        }
    }

    /// `P(X <= x)`; 0 when the deviation is 0 (River's `ZeroDivisionError` branch).
    fn cdf(&self, x: f64) -> f64 {
        let sigma = self.variance().sqrt();
        if sigma == 0.0 {
            return 0.0;
        }
        0.5 * (1.0 + libm::erf((x - self.mean) / sigma / std::f64::consts::SQRT_2))
    }

    fn log_pdf(&self, x: f64) -> f64 {
        if self.n > 1.0 {
            let variance = self.s / (self.n - 1.0);
            if variance > 0.0 {
                return (x - self.mean).powi(2) / (-2.0 * variance) - HALF_LOG_TAU - 0.5 * variance.ln();
            }
        }
        f64::NEG_INFINITY
    }
}

/// A numeric feature's observer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    per_class: Vec<ClassGaussian>,
}

impl Gaussian {
    /// Learn `x` of class `class` with weight `w`.
    pub fn update(&mut self, x: f64, class: u32, w: f64) {
        match self.per_class.iter_mut().find(|g| g.class == class) {
            Some(g) => {
                g.min = g.min.min(x);
                g.max = g.max.max(x);
                let old = g.mean;
                g.n += w;
                g.mean += (w / g.n) * (x - old);
                g.s += w * (x - old) * (x - g.mean);
            }
            None => {
                let mut g = ClassGaussian { class, n: w, mean: 0.0, s: 0.0, min: x, max: x };
                g.mean += (w / g.n) * x;
                g.s += w * x * (x - g.mean);
                self.per_class.push(g);
            }
        }
    }

    /// `log p(x | class)`, `-inf` when unknown.
    pub fn log_likelihood(&self, x: f64, class: u32) -> f64 {
        self.per_class.iter().find(|g| g.class == class).map_or(f64::NEG_INFINITY, |g| g.log_pdf(x))
    }

    /// The best threshold among `n_splits` evenly spaced between the least and largest value seen.
    pub fn best_split(&self, feature: u32, search: &SplitSearch<'_>) -> Suggestion {
        let mut best = Suggestion::null();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for g in &self.per_class {
            lo = lo.min(g.min);
            hi = hi.max(g.max);
        }
        if lo == f64::INFINITY {
            return best;
        }
        let bin = (hi - lo) / (search.n_splits as f64 + 1.0);
        // One pair of branches, refilled for each candidate; the best is copied.
        let mut children = vec![Dist::new(), Dist::new()];
        for i in 0..search.n_splits {
            let t = lo + bin * (i as f64 + 1.0);
            if !(lo < t && t < hi) {
                continue;
            }
            self.binary_split(t, &mut children);
            let merit = search.criterion.merit_after(search.pre_term, &children, search.min_branch_fraction);
            if merit > best.merit {
                best = Suggestion { merit, split: Some((feature, Split::Threshold(t))), children: children.clone() };
            }
        }
        best
    }

    /// The branches' class weights at threshold `t`, into `out` (left, right).
    fn binary_split(&self, t: f64, out: &mut [Dist]) {
        let [left, right] = out else { return };
        left.clear();
        right.clear();
        for g in &self.per_class {
            if t < g.min {
                right.add(g.class, g.n);
            } else if t >= g.max {
                left.add(g.class, g.n);
            } else {
                let l = g.cdf(t) * g.n;
                left.add(g.class, l);
                right.add(g.class, g.n - l);
            }
        }
    }

    fn check(&self, n_classes: usize) -> Result<(), String> {
        for g in &self.per_class {
            if g.class as usize >= n_classes {
                return Err(format!("an observer holds class {} of {n_classes}", g.class));
            }
            let finite = [g.mean, g.s, g.min, g.max].iter().all(|v| v.is_finite());
            if !(finite && g.n.is_finite() && g.n > 0.0 && g.s >= 0.0 && g.min <= g.max) {
                return Err("an observer's Gaussian is not a valid one".into());
            }
        }
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.per_class.capacity() * std::mem::size_of::<ClassGaussian>()
    }
}

/// A categorical feature's observer: weights per class and category code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Nominal {
    per_class: Vec<(u32, Vec<(u32, f64)>)>,
    /// The codes seen, in first-met order.
    values: Vec<u32>,
}

impl Nominal {
    /// Learn category `code` of class `class` with weight `w`.
    pub fn update(&mut self, code: u32, class: u32, w: f64) {
        if !self.values.contains(&code) {
            self.values.push(code);
        }
        let counts = match self.per_class.iter().position(|(c, _)| *c == class) {
            Some(i) => &mut self.per_class[i].1,
            None => {
                self.per_class.push((class, Vec::new()));
                let last = self.per_class.len() - 1;
                &mut self.per_class[last].1
            }
        };
        match counts.iter_mut().find(|(v, _)| *v == code) {
            Some((_, n)) => *n += w,
            None => counts.push((code, w)),
        }
    }

    /// `P(code | class)` without smoothing (River's), 0 when unknown.
    pub fn probability(&self, code: u32, class: u32) -> f64 {
        let Some((_, counts)) = self.per_class.iter().find(|(c, _)| *c == class) else { return 0.0 };
        let Some(&(_, n)) = counts.iter().find(|(v, _)| *v == code) else { return 0.0 };
        let total: f64 = counts.iter().map(|&(_, w)| w).sum();
        if total == 0.0 {
            0.0
        } else {
            n / total
        }
    }

    /// The best of a split per category (unless `binary_only`) and each one-against-the-rest split.
    pub fn best_split(&self, feature: u32, search: &SplitSearch<'_>) -> Suggestion {
        let mut best = Suggestion::null();
        if !search.binary_only {
            let mut values = self.values.clone();
            values.sort_by(|&a, &b| (search.text)(a).cmp((search.text)(b)));
            let children: Vec<Dist> = values
                .iter()
                .map(|&v| {
                    let mut d: Vec<(u32, f64)> = Vec::new();
                    for (class, counts) in &self.per_class {
                        for &(_, w) in counts.iter().filter(|(c, _)| *c == v) {
                            d.push((*class, w));
                        }
                    }
                    d.sort_by_key(|&(c, _)| search.labels.get(c as usize).copied().unwrap_or(i64::MAX));
                    d.into_iter().collect()
                })
                .collect();
            let merit = search.criterion.merit_after(search.pre_term, &children, search.min_branch_fraction);
            best = Suggestion { merit, split: Some((feature, Split::Multi(values))), children };
        }
        for &v in &self.values {
            let (mut equal, mut other) = (Dist::new(), Dist::new());
            for (class, counts) in &self.per_class {
                for &(code, w) in counts {
                    if code == v {
                        equal.add(*class, w);
                    } else {
                        other.add(*class, w);
                    }
                }
            }
            let children = vec![equal, other];
            let merit = search.criterion.merit_after(search.pre_term, &children, search.min_branch_fraction);
            if merit > best.merit {
                best = Suggestion { merit, split: Some((feature, Split::Equal(v))), children };
            }
        }
        best
    }

    fn check(&self, n_classes: usize, n_codes: usize) -> Result<(), String> {
        for (class, counts) in &self.per_class {
            if *class as usize >= n_classes {
                return Err(format!("an observer holds class {class} of {n_classes}"));
            }
            for &(code, w) in counts {
                if code as usize >= n_codes || !self.values.contains(&code) {
                    return Err(format!("an observer holds category code {code} it never met"));
                }
                if !(w.is_finite() && w >= 0.0) {
                    return Err(format!("an observer holds a weight of {w}"));
                }
            }
        }
        if self.values.iter().any(|&v| v as usize >= n_codes) {
            return Err("an observer holds an unknown category code".into());
        }
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.values.capacity() * 4
            + self.per_class.capacity() * std::mem::size_of::<(u32, Vec<(u32, f64)>)>()
            + self.per_class.iter().map(|(_, c)| c.capacity() * 16).sum::<usize>()
    }
}

/// An observer of either kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Observer {
    /// Of a number.
    Gaussian(Gaussian),
    /// Of a category.
    Nominal(Nominal),
}

impl Observer {
    /// The best split it suggests.
    pub fn best_split(&self, feature: u32, search: &SplitSearch<'_>) -> Suggestion {
        match self {
            Self::Gaussian(g) => g.best_split(feature, search),
            Self::Nominal(n) => n.best_split(feature, search),
        }
    }

    /// Check a decoded observer; `n_codes`: the category codes its feature has, `None` for a number.
    pub fn check(&self, n_classes: usize, n_codes: Option<usize>) -> Result<(), String> {
        match (self, n_codes) {
            (Self::Gaussian(g), None) => g.check(n_classes),
            (Self::Nominal(n), Some(codes)) => n.check(n_classes, codes),
            _ => Err("an observer is of the wrong kind for its feature".into()),
        }
    }

    /// Bytes it holds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self {
                Self::Gaussian(g) => g.bytes(),
                Self::Nominal(n) => n.bytes(),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search<'a>(pre: &'a Dist, labels: &'a [i64], text: &'a dyn Fn(u32) -> &'a str) -> SplitSearch<'a> {
        SplitSearch {
            criterion: SplitCriterion::InfoGain,
            pre,
            pre_term: SplitCriterion::InfoGain.pre_term(pre),
            min_branch_fraction: 0.01,
            binary_only: false,
            n_splits: 10,
            labels,
            text,
        }
    }

    #[test]
    fn welford_matches_the_two_pass_moments() {
        let mut g = Gaussian::default();
        for x in [1.0, 2.0, 4.0, 7.0] {
            g.update(x, 0, 1.0);
        }
        let c = &g.per_class[0];
        assert_eq!((c.n, c.mean, c.min, c.max), (4.0, 3.5, 1.0, 7.0));
        // Sample variance of 1, 2, 4, 7: (6.25 + 2.25 + 0.25 + 12.25) / 3 = 7.
        assert!((c.variance() - 7.0).abs() < 1e-12);
        // A weight of 2 counts as the value twice.
        let mut twice = Gaussian::default();
        twice.update(1.0, 0, 2.0);
        twice.update(3.0, 0, 1.0);
        let t = &twice.per_class[0];
        assert!((t.mean - 5.0 / 3.0).abs() < 1e-12 && (t.variance() - (8.0 / 9.0 + 16.0 / 9.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn thresholds_lie_evenly_between_the_extremes() {
        // Class 0 on [0, 1], class 1 on [10, 11]: the candidates are 1, 2, ..., 10 (n_splits
        // = 10 over [0, 11]); 1 already separates the classes, and the equal merits after
        // it do not replace it (only a strictly better one would).
        let mut g = Gaussian::default();
        for x in [0.0, 0.5, 1.0] {
            g.update(x, 0, 1.0);
        }
        for x in [10.0, 10.5, 11.0] {
            g.update(x, 1, 1.0);
        }
        let pre: Dist = [(0, 3.0), (1, 3.0)].into_iter().collect();
        let text = |_: u32| "";
        let s = g.best_split(0, &search(&pre, &[0, 1], &text));
        assert_eq!(s.split, Some((0, Split::Threshold(1.0))));
        assert!((s.merit - 1.0).abs() < 1e-12, "a pure split of an even node gains one bit: {}", s.merit);
        assert_eq!(s.children[0].get(0), Some(3.0));
        assert_eq!(s.children[1].get(1), Some(3.0));
    }

    #[test]
    fn one_class_at_one_value_has_no_threshold() {
        let mut g = Gaussian::default();
        g.update(2.0, 0, 1.0);
        g.update(2.0, 1, 1.0);
        let pre: Dist = [(0, 1.0), (1, 1.0)].into_iter().collect();
        let text = |_: u32| "";
        assert_eq!(g.best_split(0, &search(&pre, &[0, 1], &text)).split, None);
    }

    #[test]
    fn a_category_that_decides_the_class_wins() {
        // code 0 ("b") is always class 1; codes 1 ("a") and 2 ("c") class 0.
        let mut n = Nominal::default();
        for _ in 0..5 {
            n.update(0, 1, 1.0);
            n.update(1, 0, 1.0);
            n.update(2, 0, 1.0);
        }
        let pre: Dist = [(1, 5.0), (0, 10.0)].into_iter().collect();
        let names = ["b", "a", "c"];
        let text = |c: u32| names[c as usize];
        let multi = n.best_split(3, &search(&pre, &[0, 1], &text));
        // Multiway gains the whole entropy, as does "== b"; the multiway came first and ties keep it.
        assert_eq!(multi.split, Some((3, Split::Multi(vec![1, 0, 2]))), "sorted by text: a, b, c");
        let h = -(1.0 / 3.0f64) * (1.0 / 3.0f64).log2() - (2.0 / 3.0f64) * (2.0 / 3.0f64).log2();
        assert!((multi.merit - h).abs() < 1e-12);
        let mut s = search(&pre, &[0, 1], &text);
        s.binary_only = true;
        let binary = n.best_split(3, &s);
        assert_eq!(binary.split, Some((3, Split::Equal(0))));
        assert!((n.probability(0, 1) - 1.0).abs() < 1e-12 && n.probability(0, 0) == 0.0);
    }
}
