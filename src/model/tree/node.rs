//! The nodes of a tree, kept in one arena (`Vec<Node>`, the root at 0): a leaf learns,
//! a branch routes. A record reaches a node as a [`Row`].

use super::dist::Dist;
use super::observer::Observer;
use serde::{Deserialize, Serialize};

/// The bit that marks a feature id as a categorical column's (`CATEGORICAL | j` is
/// categorical column `j`; a numeric column `j` is `j`), so that numeric columns added
/// later (behind an encoder) never renumber the categorical ones.
pub const CATEGORICAL: u32 = 1 << 31;

/// The code of a missing category.
pub const MISSING: u32 = u32::MAX;

/// The code of a category the model never learned (met while predicting).
pub const UNSEEN: u32 = u32::MAX - 1;

/// One record as the tree reads it: its numbers (NaN: missing) and its category codes.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The numeric columns.
    pub num: &'a [f64],
    /// The categorical columns' codes ([`MISSING`], [`UNSEEN`] or a known code).
    pub cat: &'a [u32],
}

/// A feature's value in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A category code.
    Cat(u32),
    /// No value.
    Missing,
}

impl Row<'_> {
    /// The value of feature `f`.
    pub fn get(&self, f: u32) -> Value {
        if f & CATEGORICAL != 0 {
            match self.cat.get((f & !CATEGORICAL) as usize) {
                Some(&MISSING) | None => Value::Missing,
                Some(&code) => Value::Cat(code),
            }
        } else {
            match self.num.get(f as usize) {
                Some(x) if !x.is_nan() => Value::Num(*x),
                _ => Value::Missing,
            }
        }
    }

    /// The features with a value, in River's dict order: numbers first, then categories.
    pub fn present(&self) -> impl Iterator<Item = (u32, Value)> + '_ {
        let num = (0..self.num.len() as u32).map(|f| (f, self.get(f)));
        let cat = (0..self.cat.len() as u32).map(|j| (CATEGORICAL | j, self.get(CATEGORICAL | j)));
        num.chain(cat).filter(|(_, v)| *v != Value::Missing)
    }
}

/// How a branch tests a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Test {
    /// `feature <= threshold` goes to child 0, else child 1.
    Le {
        /// The numeric feature.
        feature: u32,
        /// The threshold.
        threshold: f64,
    },
    /// `feature == code` goes to child 0, else child 1.
    Eq {
        /// The categorical feature.
        feature: u32,
        /// The category.
        code: u32,
    },
    /// Child `i` takes category `codes[i]`; a category not listed grows a child when
    /// learning (River's `NominalMultiwayBranch`).
    Multi {
        /// The categorical feature.
        feature: u32,
        /// The category of each child.
        codes: Vec<u32>,
    },
}

/// Where a branch sends a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// To this child (its position among the branch's children).
    Child(usize),
    /// The record has no value of the feature.
    Missing,
    /// A multiway branch meets a category it has no child for.
    Unseen(u32),
}

impl Test {
    /// The feature tested.
    pub fn feature(&self) -> u32 {
        match self {
            Self::Le { feature, .. } | Self::Eq { feature, .. } | Self::Multi { feature, .. } => *feature,
        }
    }

    /// Where `row` goes.
    pub fn route(&self, row: &Row<'_>) -> Route {
        match (self, row.get(self.feature())) {
            (_, Value::Missing) => Route::Missing,
            (Self::Le { threshold, .. }, Value::Num(x)) => Route::Child(usize::from(x > *threshold)),
            (Self::Eq { code, .. }, Value::Cat(c)) => Route::Child(usize::from(c != *code)),
            (Self::Multi { codes, .. }, Value::Cat(c)) => {
                codes.iter().position(|&k| k == c).map_or(Route::Unseen(c), Route::Child)
            }
            // A feature id always names a column of its own kind (checked when decoded).
            _ => Route::Missing,
        }
    }
}

/// An inner node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// The test.
    pub test: Test,
    /// Arena positions of the children.
    pub children: Vec<u32>,
    /// Depth (the root's is 0).
    pub depth: u32,
    /// The class distribution of the leaf it replaced.
    pub stats: Dist,
}

/// A leaf: class weights, and (while active) an observer per feature it met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// Class weights.
    pub stats: Dist,
    /// Depth (the root's is 0).
    pub depth: u32,
    /// The weight at the last split attempt.
    pub last_attempt: f64,
    /// Observers in the order their features were met; `None`: the leaf is inactive.
    pub observers: Option<Vec<(u32, Observer)>>,
    /// Features no longer observed (`remove_poor_attrs`).
    pub disabled: Vec<u32>,
    /// Weight the majority class would have predicted right (adaptive naive Bayes).
    pub mc_correct: f64,
    /// Weight naive Bayes would have predicted right.
    pub nb_correct: f64,
    /// The features it observes, drawn at its first record (a forest's trees, River's
    /// `feature_indices`); `None`: every feature.
    pub subset: Option<Vec<u32>>,
}

impl Leaf {
    /// An active leaf with these class weights.
    pub fn new(stats: Dist, depth: u32) -> Self {
        let last_attempt = stats.total();
        Self {
            stats,
            depth,
            last_attempt,
            observers: Some(Vec::new()),
            disabled: Vec::new(),
            mc_correct: 0.0,
            nb_correct: 0.0,
            subset: None,
        }
    }

    /// True while it observes features (and may split).
    pub fn is_active(&self) -> bool {
        self.observers.is_some()
    }

    /// Bytes it holds, for the memory bound.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Node>()
            + self.stats.bytes()
            + self.disabled.capacity() * 4
            + self.subset.as_ref().map_or(0, |s| s.capacity() * 4)
            + self.observers.as_ref().map_or(0, |o| o.iter().map(|(_, ob)| 4 + ob.bytes()).sum())
    }
}

impl Branch {
    /// Bytes it holds, for the memory bound.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Node>()
            + self.children.capacity() * 4
            + self.stats.bytes()
            + match &self.test {
                Test::Multi { codes, .. } => codes.capacity() * 4,
                _ => 0,
            }
    }
}

/// A node of the arena.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// A leaf.
    Leaf(Leaf),
    /// A branch.
    Branch(Branch),
}

impl Node {
    /// Depth (the root's is 0).
    pub fn depth(&self) -> u32 {
        match self {
            Self::Leaf(l) => l.depth,
            Self::Branch(b) => b.depth,
        }
    }
}
