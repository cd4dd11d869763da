//! How good a split is, and how sure a tree must be before it makes one.
//!
//! A class distribution is a [`Dist`], River's dict of class weights in first-met order
//! (sums run in that order, as River's do); a split is the distributions of its branches. Each criterion is River's:
//! the same merit, the same range `R` for the Hoeffding bound, and the same refusal
//! (`-inf`) of a split that leaves fewer than two branches with more than
//! `min_branch_fraction` of the weight.

/// The Hoeffding bound: with probability `1 - delta`, the true mean of a variable of
/// range `range` is within this of the mean of `n` observations,
/// `sqrt(range² ln(1/delta) / (2n))` (River's `_hoeffding_bound`).
pub fn hoeffding_bound(range: f64, delta: f64, n: f64) -> f64 {
    (range * range * (1.0 / delta).ln() / (2.0 * n)).sqrt()
}

use super::dist::Dist;

/// A split criterion, as River names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitCriterion {
    /// Information gain (entropies in bits); range `log2(max(classes, 2))`.
    InfoGain,
    /// One minus the weighted Gini impurity of the branches (not a gain); range 1.
    Gini,
    /// The Hellinger distance between the branches' distributions of two classes (the
    /// tree's class ids of labels 0 and 1, as River reads keys 0 and 1); range
    /// `log2(max(classes, 2))`.
    Hellinger {
        /// Class id of the negative class (label 0).
        negative: u32,
        /// Class id of the positive class (label 1).
        positive: u32,
    },
}

impl SplitCriterion {
    /// The merit of splitting `pre` into the branches `post`; `-inf` when fewer than two
    /// branches hold more than `min_branch_fraction` of the weight.
    pub fn merit(self, pre: &Dist, post: &[Dist], min_branch_fraction: f64) -> f64 {
        self.merit_after(self.pre_term(pre), post, min_branch_fraction)
    }

    /// What the merit needs of the distribution before the split (its entropy for
    /// information gain): computed once for every candidate split of a leaf.
    pub fn pre_term(self, pre: &Dist) -> f64 {
        match self {
            Self::InfoGain => entropy(pre),
            Self::Gini | Self::Hellinger { .. } => 0.0,
        }
    }

    /// [`Self::merit`] with [`Self::pre_term`] of the distribution before the split.
    pub fn merit_after(self, pre_term: f64, post: &[Dist], min_branch_fraction: f64) -> f64 {
        if branches_over(post, min_branch_fraction) < 2 {
            return f64::NEG_INFINITY;
        }
        match self {
            Self::InfoGain => pre_term - entropy_of_branches(post),
            Self::Gini => {
                let total: f64 = post.iter().map(Dist::total).sum();
                let impurity: f64 = post
                    .iter()
                    .map(|d| {
                        let w = d.total();
                        (w / total) * gini(d, w)
                    })
                    .sum();
                1.0 - impurity
            }
            Self::Hellinger { negative, positive } => hellinger(post, negative, positive),
        }
    }

    /// The range of the merit, for the Hoeffding bound, given the distribution before the split.
    pub fn range(self, pre: &Dist) -> f64 {
        match self {
            Self::Gini => 1.0,
            Self::InfoGain | Self::Hellinger { .. } => (pre.len().max(2) as f64).log2(),
        }
    }
}

/// Branches holding more than `min_fraction` of the total weight (none when it is 0).
// (The branches' sums are summed again rather than collected: split searches run this
// for every candidate threshold, and an allocation each time showed in profiles.)
fn branches_over(post: &[Dist], min_fraction: f64) -> usize {
    let total: f64 = post.iter().map(Dist::total).sum();
    if total <= 0.0 {
        return 0;
    }
    post.iter().filter(|d| d.total() / total > min_fraction).count()
}

/// Entropy in bits, computed as River does: `(-Σ d log2 d + s log2 s) / s`.
fn entropy(dist: &Dist) -> f64 {
    let (mut h, mut sum) = (0.0, 0.0);
    for d in dist.weights().filter(|&d| d > 0.0) {
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
fn entropy_of_branches(post: &[Dist]) -> f64 {
    let total: f64 = post.iter().map(Dist::total).sum();
    post.iter().map(|d| d.total() * entropy(d)).sum::<f64>() / total
}

/// Gini impurity of `dist`, whose weights sum to `sum`.
fn gini(dist: &Dist, sum: f64) -> f64 {
    let mut g = 1.0;
    if sum != 0.0 {
        for v in dist.weights() {
            g -= (v / sum) * (v / sum);
        }
    }
    g
}

/// River's Hellinger distance of a two-branch split of two classes (0 when a branch or
/// a class is missing).
fn hellinger(post: &[Dist], negative: u32, positive: u32) -> f64 {
    let (Some(left), Some(right)) = (post.first(), post.get(1)) else { return 0.0 };
    let at = |d: &Dist, c: u32| d.get(c);
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

    /// A distribution of classes 0, 1, ... with these weights.
    fn d(weights: &[f64]) -> Dist {
        weights.iter().enumerate().map(|(c, &w)| (c as u32, w)).collect()
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
        assert!(close(gain.merit(&d(&[10.0, 10.0]), &[d(&[10.0, 0.0]), d(&[0.0, 10.0])], 0.01), 1.0));
        // A split that changes nothing gains nothing.
        assert!(close(gain.merit(&d(&[10.0, 10.0]), &[d(&[5.0, 5.0]), d(&[5.0, 5.0])], 0.01), 0.0));
        // 6:2, split pure: H(0.75, 0.25) = 0.8112781244591328.
        assert!(close(gain.merit(&d(&[6.0, 2.0]), &[d(&[6.0, 0.0]), d(&[0.0, 2.0])], 0.01), 0.811_278_124_459_132_8));
        // A branch under the minimum fraction makes the split worthless.
        assert_eq!(gain.merit(&d(&[10.0, 0.0]), &[d(&[10.0, 0.0]), d(&[0.0, 0.0])], 0.01), f64::NEG_INFINITY);
        assert!(close(gain.range(&d(&[1.0, 2.0, 3.0, 4.0])), 2.0));
        assert!(close(gain.range(&d(&[1.0])), 1.0), "at least two classes' worth");
    }

    #[test]
    fn gini_by_hand() {
        let gini = SplitCriterion::Gini;
        // Left 3:1 has impurity 1 - (9 + 1)/16 = 0.375 and half the weight; right is pure.
        assert!(close(gini.merit(&d(&[3.0, 5.0]), &[d(&[3.0, 1.0]), d(&[0.0, 4.0])], 0.01), 1.0 - 0.5 * 0.375));
        assert!(close(gini.range(&d(&[1.0, 2.0, 3.0])), 1.0));
    }

    #[test]
    fn hellinger_by_hand() {
        let h = SplitCriterion::Hellinger { negative: 0, positive: 1 };
        // A perfect separation of two classes: sqrt((1 - 0)² + (0 - 1)²) = sqrt(2).
        assert!(close(h.merit(&d(&[4.0, 4.0]), &[d(&[4.0, 0.0]), d(&[0.0, 4.0])], 0.01), 2f64.sqrt()));
        assert!(close(h.merit(&d(&[4.0, 4.0]), &[d(&[2.0, 2.0]), d(&[2.0, 2.0])], 0.01), 0.0));
        let missing_class = SplitCriterion::Hellinger { negative: 0, positive: 2 };
        assert_eq!(missing_class.merit(&d(&[4.0, 4.0]), &[d(&[4.0, 0.0]), d(&[0.0, 4.0])], 0.01), 0.0);
        // A class absent from a branch (not merely 0) gives 0, as River's KeyError does.
        let absent: Dist = [(0, 4.0)].into_iter().collect();
        assert_eq!(h.merit(&d(&[4.0, 4.0]), &[absent, d(&[0.0, 4.0])], 0.01), 0.0);
    }
}
