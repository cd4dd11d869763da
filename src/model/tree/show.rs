//! A tree as text, one line a node (`eddy model show --tree`): the test on the edge into
//! each node, then what the node is: a split and the weight that reached it, or a leaf,
//! its majority class and that class's share.

use super::codes::CategoryCodes;
use super::node::{Node, Test, CATEGORICAL};
use super::vfdt::Tree;
use std::fmt::Write;

/// How to name what the tree reads and predicts.
pub struct Names<'a> {
    /// The numeric features' names.
    pub numeric: &'a [String],
    /// The categories.
    pub codes: &'a CategoryCodes,
    /// The label of each class id.
    pub labels: &'a [i64],
    /// The name of each label, when classes are named (`labels[i]` is an index into it).
    pub class_names: Option<&'a [String]>,
}

impl Names<'_> {
    fn feature(&self, f: u32) -> String {
        if f & CATEGORICAL != 0 {
            let j = (f & !CATEGORICAL) as usize;
            self.codes.names().nth(j).map_or_else(|| format!("c{j}"), str::to_string)
        } else {
            self.numeric.get(f as usize).cloned().unwrap_or_else(|| format!("x{f}"))
        }
    }

    fn category(&self, f: u32, code: u32) -> String {
        self.codes.text((f & !CATEGORICAL) as usize, code).to_string()
    }

    fn class(&self, id: u32) -> String {
        let Some(&label) = self.labels.get(id as usize) else { return format!("#{id}") };
        match self.class_names.and_then(|n| usize::try_from(label).ok().and_then(|i| n.get(i))) {
            Some(name) => name.clone(),
            None => label.to_string(),
        }
    }

    /// The condition on the edge into child `i` of a branch with `test`.
    fn edge(&self, test: &Test, i: usize) -> String {
        match test {
            Test::Le { feature, threshold } => {
                let op = if i == 0 { "<=" } else { ">" };
                format!("{} {op} {}", self.feature(*feature), short(*threshold))
            }
            Test::Eq { feature, code } => {
                let op = if i == 0 { "=" } else { "!=" };
                format!("{} {op} {:?}", self.feature(*feature), self.category(*feature, *code))
            }
            Test::Multi { feature, codes } => {
                let code = codes.get(i).copied().unwrap_or(u32::MAX);
                format!("{} = {:?}", self.feature(*feature), self.category(*feature, code))
            }
        }
    }
}

/// A threshold in 6 significant digits, trailing zeros dropped.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = 5 - v.abs().log10().floor() as i32;
    if !(0..=12).contains(&decimals) {
        return format!("{v:.5e}");
    }
    let s = format!("{v:.*}", decimals as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A weight: whole, or to one decimal (leaves inherit fractional weights from a split).
fn weight(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// The tree, one line a node, children indented under their parent; at most `max_depth`
/// levels (deeper subtrees are counted, not drawn).
pub fn render(tree: &Tree, names: &Names<'_>, max_depth: u32) -> String {
    let mut out = String::new();
    let shape = tree.shape();
    let _ = writeln!(
        out,
        "{} nodes: {} branches, {} leaves ({} active, {} inactive), depth {}",
        shape.nodes, shape.branches, shape.leaves, shape.active_leaves, shape.inactive_leaves, shape.depth
    );
    if tree.nodes().is_empty() {
        out.push_str("(no record learned yet)\n");
        return out;
    }
    // (node, the edge into it, the prefix of its line, the prefix of its children's)
    let mut stack: Vec<(usize, String, String, String)> = vec![(0, "root".into(), String::new(), String::new())];
    while let Some((at, edge, lead, indent)) = stack.pop() {
        let node = &tree.nodes()[at];
        let _ = write!(out, "{lead}{edge}: ");
        match node {
            Node::Leaf(l) => {
                let total = l.stats.total();
                let class = l.stats.argmax().map_or_else(|| "none yet".into(), |c| names.class(c));
                let share = if total > 0.0 { l.stats.max_weight() / total } else { 0.0 };
                let _ = writeln!(
                    out,
                    "class {class} ({:.1}% of n={}){}",
                    100.0 * share,
                    weight(total),
                    if l.is_active() { "" } else { ", inactive" }
                );
            }
            Node::Branch(b) => {
                let n = tree.subtree_weight(at);
                let what = match &b.test {
                    Test::Multi { feature, .. } => format!("split on {} by category", names.feature(*feature)),
                    other => format!("split on {}", names.feature(other.feature())),
                };
                if b.depth.saturating_add(1) > max_depth {
                    let _ =
                        writeln!(out, "{what} (n={}), {} nodes below not shown", weight(n), tree.subtree_size(at) - 1);
                    continue;
                }
                let _ = writeln!(out, "{what} (n={})", weight(n));
                let last = b.children.len().saturating_sub(1);
                for (i, &c) in b.children.iter().enumerate().rev() {
                    let (mark, more) = if i == last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
                    stack.push((
                        c as usize,
                        names.edge(&b.test, i),
                        format!("{indent}{mark}"),
                        format!("{indent}{more}"),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(short(5.498272727272727), "5.49827");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(-1234.5678), "-1234.57");
        assert_eq!(short(1e-9), "1.00000e-9");
        assert_eq!(weight(1251.0), "1251");
        assert_eq!(weight(423.896246), "423.9");
    }
}
