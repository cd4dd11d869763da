//! A class distribution as River keeps it: a dict from class to weight, in the order the
//! classes were first met. The order is part of the algorithm: the first of equal
//! weights wins an argmax, and sums run in that order, so keeping it lets the trees
//! split and predict where River's do.

use serde::{Deserialize, Serialize};

/// Weights per class (tree class ids), in first-met order; a class is present once met,
/// even with weight 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dist(Vec<(u32, f64)>);

impl Dist {
    /// An empty distribution.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Forget every class (keeping the memory, to be filled again).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Add `w` to `class`, appending it when new.
    pub fn add(&mut self, class: u32, w: f64) {
        match self.0.iter_mut().find(|(c, _)| *c == class) {
            Some((_, v)) => *v += w,
            None => self.0.push((class, w)),
        }
    }

    /// The weight of `class`, when it was met.
    pub fn get(&self, class: u32) -> Option<f64> {
        self.0.iter().find(|(c, _)| *c == class).map(|&(_, w)| w)
    }

    /// The sum of the weights, summed in order.
    pub fn total(&self) -> f64 {
        self.0.iter().map(|&(_, w)| w).sum()
    }

    /// The classes and their weights, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.0.iter().copied()
    }

    /// The weights, in order.
    pub fn weights(&self) -> impl Iterator<Item = f64> + '_ {
        self.0.iter().map(|&(_, w)| w)
    }

    /// Classes met.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no class was met.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first class of the largest weight (Python's `max(d, key=d.get)`).
    pub fn argmax(&self) -> Option<u32> {
        let mut best: Option<(u32, f64)> = None;
        for &(c, w) in &self.0 {
            if best.is_none_or(|(_, b)| w > b) {
                best = Some((c, w));
            }
        }
        best.map(|(c, _)| c)
    }

    /// The largest weight (0 when empty).
    pub fn max_weight(&self) -> f64 {
        self.0.iter().map(|&(_, w)| w).fold(f64::NEG_INFINITY, f64::max).max(0.0)
    }

    /// True when fewer than two classes have a weight other than 0.
    pub fn is_pure(&self) -> bool {
        self.0.iter().filter(|&&(_, w)| w != 0.0).count() < 2
    }

    /// The same distribution with its classes sorted (River sorts a multiway split's).
    pub fn sorted(mut self) -> Self {
        self.0.sort_by_key(|&(c, _)| c);
        self
    }

    /// Every weight multiplied by `f`.
    pub fn scale(&mut self, f: f64) {
        for (_, w) in &mut self.0 {
            *w *= f;
        }
    }

    /// Check a decoded distribution: classes below `n_classes`, each once; weights
    /// finite and not negative.
    pub fn check(&self, n_classes: usize) -> Result<(), String> {
        for (i, &(c, w)) in self.0.iter().enumerate() {
            if c as usize >= n_classes {
                return Err(format!("class {c} of a distribution is not among the {n_classes} known"));
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("a class weight is {w}"));
            }
            if self.0[..i].iter().any(|&(d, _)| d == c) {
                return Err(format!("class {c} appears twice in a distribution"));
            }
        }
        Ok(())
    }

    /// Bytes it holds, for the memory bound.
    pub fn bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(u32, f64)>()
    }
}

impl FromIterator<(u32, f64)> for Dist {
    fn from_iter<I: IntoIterator<Item = (u32, f64)>>(iter: I) -> Self {
        let mut d = Dist::new();
        for (c, w) in iter {
            d.add(c, w);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_equal_weights_wins() {
        let d: Dist = [(3, 2.0), (1, 5.0), (2, 5.0)].into_iter().collect();
        assert_eq!(d.argmax(), Some(1));
        assert_eq!(d.total(), 12.0);
        assert_eq!(Dist::new().argmax(), None);
        let sorted: Vec<u32> = d.clone().sorted().iter().map(|(c, _)| c).collect();
        assert_eq!(sorted, vec![1, 2, 3]);
    }

    #[test]
    fn purity_ignores_classes_of_weight_zero() {
        let mut d = Dist::new();
        d.add(0, 0.0);
        d.add(1, 3.0);
        assert!(d.is_pure());
        d.add(0, 1.0);
        assert!(!d.is_pure());
        assert!(d.check(2).is_ok());
        assert!(d.check(1).is_err());
    }
}
