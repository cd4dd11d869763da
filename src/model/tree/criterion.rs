//! How good a split is, and how sure a tree must be before it makes one.
//!
//! A class distribution is a slice of weights, one per class, in one fixed class order
//! (the tree's); a split is the distributions of its branches. Each criterion is River's:
//! the same merit, the same range `R` for the Hoeffding bound, and the same refusal
//! (`-inf`) of a split that leaves fewer than two branches with more than
//! `min_branch_fraction` of the weight.

/// The Hoeffding bound: with probability `1 - delta`, the true mean of a variable of
/// range `range` is within this of the mean of `n` observations,
/// `sqrt(range² ln(1/delta) / (2n))` (River's `_hoeffding_bound`).
pub fn hoeffding_bound(range: f64, delta: f64, n: f64) -> f64 {
    (range * range * (1.0 / delta).ln() / (2.0 * n)).sqrt()
}

/// A split criterion, as River names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitCriterion {
    /// Information gain (entropies in bits); range `log2(max(classes, 2))`.
    InfoGain,
    /// One minus the weighted Gini impurity of the branches (not a gain); range 1.
    Gini,
    /// The Hellinger distance between the branches' distributions of two classes, at
    /// these positions (negative, positive) of the distributions; range `log2(max(classes, 2))`.
    Hellinger {
        /// Position of the negative class.
        negative: usize,
        /// Position of the positive class.
        positive: usize,
    },
}

impl SplitCriterion {
    /// The merit of splitting `pre` into the branches `post`; `-inf` when fewer than two
    /// branches hold more than `min_branch_fraction` of the weight.
    pub fn merit(self, pre: &[f64], post: &[&[f64]], min_branch_fraction: f64) -> f64 {
        if branches_over(post, min_branch_fraction) < 2 {
            return f64::NEG_INFINITY;
        }
        match self {
            Self::InfoGain => entropy(pre) - entropy_of_branches(post),
            Self::Gini => {
                let weights: Vec<f64> = post.iter().map(|d| d.iter().sum()).collect();
                let total: f64 = weights.iter().sum();
                let impurity: f64 = post.iter().zip(&weights).map(|(d, &w)| (w / total) * gini(d, w)).sum();
                1.0 - impurity
            }
            Self::Hellinger { negative, positive } => hellinger(post, negative, positive),
        }
    }

    /// The range of the merit, for the Hoeffding bound, given the distribution before the split.
    pub fn range(self, pre: &[f64]) -> f64 {
        match self {
            Self::Gini => 1.0,
            Self::InfoGain | Self::Hellinger { .. } => (pre.len().max(2) as f64).log2(),
        }
    }
}

/// Branches holding more than `min_fraction` of the total weight (none when it is 0).
fn branches_over(post: &[&[f64]], min_fraction: f64) -> usize {
    let sums: Vec<f64> = post.iter().map(|d| d.iter().sum()).collect();
    let total: f64 = sums.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    sums.iter().filter(|&&s| s / total > min_fraction).count()
}

/// Entropy in bits, computed as River does: `(-Σ d log2 d + s log2 s) / s`.
fn entropy(dist: &[f64]) -> f64 {
    let (mut h, mut sum) = (0.0, 0.0);
    for &d in dist.iter().filter(|&&d| d > 0.0) {
        h -= d * d.log2();
        sum += d;
    }
    if sum > 0.0 {
        (h + sum * sum.log2()) / sum
    } else {
        0.0
    }
}

/// The branches' entropies weighted by their weights.
fn entropy_of_branches(post: &[&[f64]]) -> f64 {
    let weights: Vec<f64> = post.iter().map(|d| d.iter().sum()).collect();
    let total: f64 = weights.iter().sum();
    post.iter().zip(&weights).map(|(d, &w)| w * entropy(d)).sum::<f64>() / total
}

/// Gini impurity of `dist`, whose weights sum to `sum`.
fn gini(dist: &[f64], sum: f64) -> f64 {
    if sum == 0.0 {
        return 1.0;
    }
    1.0 - dist.iter().map(|&v| (v / sum) * (v / sum)).sum::<f64>()
}

/// River's Hellinger distance of a two-branch split of two classes (0 when a branch or
/// a class is missing).
fn hellinger(post: &[&[f64]], negative: usize, positive: usize) -> f64 {
    let (Some(left), Some(right)) = (post.first(), post.get(1)) else { return 0.0 };
    let at = |d: &[f64], i: usize| d.get(i).copied();
    let (Some(ln), Some(lp), Some(rn), Some(rp)) =
        (at(left, negative), at(left, positive), at(right, negative), at(right, positive))
    else {
        return 0.0;
    };
    let (neg, pos) = (ln + rn, lp + rp);
    let h = ((ln / neg).sqrt() - (lp / pos).sqrt()).powi(2) + ((rn / neg).sqrt() - (rp / pos).sqrt()).powi(2);
    h.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn the_bound_shrinks_with_the_records_seen() {
        // sqrt(ln(1e7) / 400), by hand: 0.2007370...
        let eps = hoeffding_bound(1.0, 1e-7, 200.0);
        assert!((eps - 0.200_737_0).abs() < 1e-6, "{eps}");
        assert!(close(hoeffding_bound(1.0, 1e-7, 800.0), eps / 2.0));
        assert!(close(hoeffding_bound(2.0, 1e-7, 200.0), 2.0 * eps));
    }

    #[test]
    fn information_gain_by_hand() {
        let gain = SplitCriterion::InfoGain;
        // A pure split of an even node gains its whole bit.
        assert!(close(gain.merit(&[10.0, 10.0], &[&[10.0, 0.0], &[0.0, 10.0]], 0.01), 1.0));
        // A split that changes nothing gains nothing.
        assert!(close(gain.merit(&[10.0, 10.0], &[&[5.0, 5.0], &[5.0, 5.0]], 0.01), 0.0));
        // 6:2, split pure: H(0.75, 0.25) = 0.8112781244591328.
        assert!(close(gain.merit(&[6.0, 2.0], &[&[6.0, 0.0], &[0.0, 2.0]], 0.01), 0.811_278_124_459_132_8));
        // A branch under the minimum fraction makes the split worthless.
        assert_eq!(gain.merit(&[10.0, 0.0], &[&[10.0, 0.0], &[0.0, 0.0]], 0.01), f64::NEG_INFINITY);
        assert!(close(gain.range(&[1.0, 2.0, 3.0, 4.0]), 2.0));
        assert!(close(gain.range(&[1.0]), 1.0), "at least two classes' worth");
    }

    #[test]
    fn gini_by_hand() {
        let gini = SplitCriterion::Gini;
        // Left 3:1 has impurity 1 - (9 + 1)/16 = 0.375 and half the weight; right is pure.
        assert!(close(gini.merit(&[3.0, 5.0], &[&[3.0, 1.0], &[0.0, 4.0]], 0.01), 1.0 - 0.5 * 0.375));
        assert!(close(gini.range(&[1.0, 2.0, 3.0]), 1.0));
    }

    #[test]
    fn hellinger_by_hand() {
        let h = SplitCriterion::Hellinger { negative: 0, positive: 1 };
        // A perfect separation of two classes: sqrt((1 - 0)² + (0 - 1)²) = sqrt(2).
        assert!(close(h.merit(&[4.0, 4.0], &[&[4.0, 0.0], &[0.0, 4.0]], 0.01), 2f64.sqrt()));
        assert!(close(h.merit(&[4.0, 4.0], &[&[2.0, 2.0], &[2.0, 2.0]], 0.01), 0.0));
        let missing_class = SplitCriterion::Hellinger { negative: 0, positive: 2 };
        assert_eq!(missing_class.merit(&[4.0, 4.0], &[&[4.0, 0.0], &[0.0, 4.0]], 0.01), 0.0);
    }
}
