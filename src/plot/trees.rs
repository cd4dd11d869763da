//! A tree model's pictures: its (first) tree's top levels drawn node by node, with its
//! shape over the run ([`TreePicture`]); and a forest's trees: each one's accuracy, the
//! features their branches split on most, and the replacements over the run
//! ([`ForestPicture`]).

use super::{class_name, segment_label, segments, Painter};
use crate::snapshot::trees::{DrawnKind, DrawnNode, TreeSummary, PICTURE_LEVELS};
use crate::snapshot::Snapshot;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Paints [`Snapshot::trees`]' top levels and [`Snapshot::shape_timeline`].
pub(super) struct TreePicture;

/// Paints a forest's trees ([`TreeSummary::forest`]).
pub(super) struct ForestPicture;

fn no_trees() -> String {
    "the snapshot has no trees (not a tree model)".into()
}

impl Painter for TreePicture {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let t = s.trees.as_ref().ok_or_else(no_trees)?;
        root.fill(&WHITE).map_err(e)?;
        let which = if t.forest.is_some() { format!("tree 0 of {}", t.trees) } else { "tree".into() };
        let title = format!("{}: {which} after {} records", s.model, s.records);
        let root = root.titled(&title, ("sans-serif", 28).into_font().style(FontStyle::Bold)).map_err(e)?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 62 / 100);
        diagram(&top, s, t)?;
        let (left, right) = bottom.split_horizontally(root.dim_in_pixel().0 / 2);
        let whose = if t.forest.is_some() { format!(" (all {} trees)", t.trees) } else { String::new() };
        let leaves = [
            ("leaves", BLUE, s.shape_timeline.iter().map(|p| (p.records as f64, p.leaves as f64)).collect()),
            (
                "active leaves",
                RGBColor(0, 150, 70),
                s.shape_timeline.iter().map(|p| (p.records as f64, p.active_leaves as f64)).collect(),
            ),
        ];
        let now = format!("{} leaves, {} active{whose}", t.shape.leaves, t.shape.active_leaves);
        lines(&left, s, &format!("leaves over the run: {now}"), "leaves", &leaves)?;
        let depth = [("depth", RED, s.shape_timeline.iter().map(|p| (p.records as f64, f64::from(p.depth))).collect())];
        let deepest = if t.forest.is_some() { "deepest leaf of any tree" } else { "deepest leaf" };
        lines(&right, s, &format!("depth over the run: {} now ({deepest})", t.shape.depth), "depth", &depth)
    }
}

impl Painter for ForestPicture {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: &Snapshot) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let t = s.trees.as_ref().ok_or_else(no_trees)?;
        let f = t.forest.as_ref().ok_or_else(|| "the snapshot's trees are not a forest".to_string())?;
        root.fill(&WHITE).map_err(e)?;
        let title = format!("{}: {} trees after {} records", s.model, f.members.len(), s.records);
        let root = root.titled(&title, ("sans-serif", 28).into_font().style(FontStyle::Bold)).map_err(e)?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 55 / 100);
        let (left, right) = top.split_horizontally(root.dim_in_pixel().0 / 2);
        accuracies(&left, f)?;
        features(&right, t)?;
        replacements(&bottom, s, f)
    }
}

/// Each node's horizontal slot: leaves of the drawn tree take one each, left to right;
/// a parent stands over the middle of its children.
fn slots(top: &[DrawnNode]) -> (Vec<f64>, usize) {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); top.len()];
    for (i, n) in top.iter().enumerate() {
        if let Some(p) = n.parent.filter(|&p| p < i) {
            children[p].push(i);
        }
    }
    let mut x = vec![0.0; top.len()];
    let mut next = 0usize;
    // (node, children placed): depth first, so the leaves come left to right.
    let mut stack: Vec<(usize, bool)> = if top.is_empty() { Vec::new() } else { vec![(0, false)] };
    while let Some((at, placed)) = stack.pop() {
        match (children[at].as_slice(), placed) {
            ([], _) => {
                x[at] = next as f64;
                next += 1;
            }
            (kids, false) => {
                stack.push((at, true));
                stack.extend(kids.iter().rev().map(|&c| (c, false)));
            }
            (kids, true) => {
                if let (Some(&first), Some(&last)) = (kids.first(), kids.last()) {
                    x[at] = (x[first] + x[last]) / 2.0;
                }
            }
        }
    }
    (x, next.max(1))
}

/// The nodes as boxes, level by level, with the test on each edge.
fn diagram<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Snapshot, t: &TreeSummary) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    // A forest's first tree has its own shape; the summary's is every tree's.
    let shape = t.forest.as_ref().and_then(|f| f.members.first()).map_or(t.shape, |m| m.shape);
    let caption = format!(
        "{} nodes, {} leaves, depth {}; the top {PICTURE_LEVELS} levels drawn; a leaf: majority class (its share), \
         n = weight learned",
        shape.nodes, shape.leaves, shape.depth
    );
    area.draw(&Text::new(caption, (12, 4), ("sans-serif", 16).into_font())).map_err(e)?;
    if t.top.is_empty() {
        let style = ("sans-serif", 20).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        return area.draw(&Text::new("no record learned yet", (w / 2, h / 2), style)).map_err(e);
    }
    let (x, n) = slots(&t.top);
    let levels = t.top.iter().map(|d| d.depth).max().unwrap_or(0) as i32 + 1;
    let slot = f64::from(w - 24) / n as f64;
    let box_w = (slot * 0.9).clamp(20.0, 190.0) as i32;
    let row = (h - 30) / levels;
    let box_h = (row * 55 / 100).clamp(24, 70);
    let size = (f64::from(box_w) / 8.0).clamp(9.0, 15.0) as i32;
    let centre = |i: usize| -> (i32, i32) {
        let cx = 12 + (slot * (x[i] + 0.5)) as i32;
        let level = t.top[i].depth.saturating_sub(t.top[0].depth) as i32;
        (cx, 30 + row * level + box_h / 2 + 4)
    };
    // Edges first, under the boxes.
    for (i, node) in t.top.iter().enumerate() {
        let Some(p) = node.parent else { continue };
        let ((px, py), (cx, cy)) = (centre(p), centre(i));
        let (from, to) = ((px, py + box_h / 2), (cx, cy - box_h / 2));
        area.draw(&PathElement::new(vec![from, to], RGBColor(120, 120, 120).stroke_width(1))).map_err(e)?;
        let style =
            ("sans-serif", size).into_font().color(&RGBColor(40, 40, 140)).pos(Pos::new(HPos::Center, VPos::Center));
        // Nearer the child than the parent, so that siblings' labels stand apart.
        let mid = (from.0 + (to.0 - from.0) * 3 / 5, from.1 + (to.1 - from.1) * 3 / 5);
        area.draw(&Text::new(node.edge.clone(), mid, style)).map_err(e)?;
    }
    let classes: Vec<i64> = s.label_counts.keys().copied().collect();
    for (i, node) in t.top.iter().enumerate() {
        let (cx, cy) = centre(i);
        let corners = [(cx - box_w / 2, cy - box_h / 2), (cx + box_w / 2, cy + box_h / 2)];
        let (fill, lines) = match &node.kind {
            DrawnKind::Split { feature, weight, hidden } => {
                let mut lines = vec![feature.clone(), format!("n={}", whole(*weight))];
                if *hidden > 0 {
                    lines.push(format!("+{hidden} below"));
                }
                (RGBColor(228, 236, 250), lines)
            }
            DrawnKind::Leaf { class, weight, share, active } => {
                let name = class.map_or_else(|| "none yet".into(), |c| class_name(s, c));
                let colour = class.map_or(RGBColor(235, 235, 235), |c| {
                    let k = classes.iter().position(|&l| l == c).unwrap_or(c.max(0) as usize);
                    let base = Palette99::pick(k + 3).to_rgba();
                    // A light tint of the class's colour in the other pictures.
                    let tint = |v: u8| (255 - (255 - u16::from(v)) * 2 / 5) as u8;
                    RGBColor(tint(base.0), tint(base.1), tint(base.2))
                });
                let mut lines = vec![format!("{name} ({:.0}%)", 100.0 * share), format!("n={}", whole(*weight))];
                if !active {
                    lines.push("inactive".into());
                }
                (colour, lines)
            }
        };
        area.draw(&Rectangle::new(corners, fill.filled())).map_err(e)?;
        area.draw(&Rectangle::new(corners, BLACK.stroke_width(1))).map_err(e)?;
        let step = size + 3;
        let first = cy - step * (lines.len() as i32 - 1) / 2;
        for (k, text) in lines.into_iter().enumerate() {
            let style = ("sans-serif", size).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
            area.draw(&Text::new(fit(&text, box_w, size), (cx, first + step * k as i32), style)).map_err(e)?;
        }
    }
    Ok(())
}

/// A weight, whole.
fn whole(v: f64) -> String {
    format!("{:.0}", v)
}

/// `text` cut to about the width of a box (an average glyph is ~0.55 of the size).
fn fit(text: &str, width: i32, size: i32) -> String {
    let max = (f64::from(width) / (f64::from(size) * 0.55)).max(3.0) as usize;
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}

/// A named line in its colour.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Lines over the run (records on the x axis), each with its name and colour.
fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    caption: &str,
    y_desc: &str,
    series: &[Series<'_>],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let last = s.shape_timeline.last().map_or(s.records, |p| p.records).max(1) as f64;
    let hi = series.iter().flat_map(|(_, _, p)| p.iter().map(|q| q.1)).fold(1.0, f64::max) * 1.1;
    let caption = if s.shape_timeline.is_empty() {
        format!("{caption} (a model file keeps no history)")
    } else {
        caption.to_string()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 17))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..last, 0f64..hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc(y_desc)
        .x_labels(super::layout::whole_ticks(last, 6))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(super::layout::whole_ticks(hi, 11))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    for (name, colour, points) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
            .map_err(e)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Each tree's accuracy since it was (re)started; trees with a background tree learning
/// beside them in orange.
fn accuracies<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    f: &crate::snapshot::trees::ForestSummary,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = f.members.len().max(1);
    let labels: Vec<String> = (0..f.members.len()).map(|i| i.to_string()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption("each tree's accuracy since it was (re)started", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((0..segments(n)).into_segmented(), 0f64..1.08)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels((n + 1).min(40))
        .x_label_formatter(&|v| segment_label(&labels, v))
        .x_desc("tree (orange: a background tree learns beside it)")
        .y_desc("accuracy")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(f.members.iter().enumerate().map(|(i, m)| {
            let colour = if m.background { RGBColor(240, 150, 0) } else { RGBColor(70, 110, 200) };
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), m.accuracy)],
                colour.filled(),
            );
            bar.set_margin(0, 0, 4, 4);
            bar
        }))
        .map_err(e)?;
    if n <= 24 {
        let style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(f.members.iter().enumerate().map(|(i, m)| {
                Text::new(format!("{:.3}", m.accuracy), (SegmentValue::CenterOf(i), m.accuracy + 0.02), style.clone())
            }))
            .map_err(e)?;
    }
    Ok(())
}

/// The features the branches of every tree split on most, most used at the top.
fn features<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, t: &TreeSummary) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = t.split_features.len().max(1);
    // Drawn bottom-up, so the most used is at the top.
    let names: Vec<String> = t.split_features.iter().rev().map(|(f, _)| fit(f, 130, 13)).collect();
    let top = t.split_features.first().map_or(1, |f| f.1).max(1) as f64 * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("features most used for splits ({} branches in all)", t.shape.branches), ("sans-serif", 18))
        .margin(10)
        .margin_right(25)
        .x_label_area_size(40)
        .y_label_area_size(140)
        .build_cartesian_2d(0f64..top, (0..segments(n)).into_segmented())
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n + 1)
        .y_label_formatter(&|v| segment_label(&names, v))
        .x_labels(super::layout::whole_ticks(top, 10))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("branches splitting on it")
        .draw()
        .map_err(e)?;
    let len = t.split_features.len();
    chart
        .draw_series(t.split_features.iter().enumerate().map(|(i, (_, count))| {
            let y = len - 1 - i;
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(y)), (*count as f64, SegmentValue::Exact(y + 1))],
                Palette99::pick(i).filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(e)?;
    Ok(())
}

/// Each replacement as a mark at its record, on its tree's row.
fn replacements<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Snapshot,
    f: &crate::snapshot::trees::ForestSummary,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let total = f.replacements_total();
    let listed = if total as usize == f.replacements.len() {
        String::new()
    } else {
        format!(" (the latest {} drawn)", f.replacements.len())
    };
    let last = f.replacements.iter().map(|r| r.0).max().unwrap_or(0).max(s.records).max(1) as f64;
    let n = f.members.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("replacements over the run: {total} trees replaced on drift{listed}"), ("sans-serif", 18))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..last, -0.5f64..(n as f64 - 0.5))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("records")
        .y_desc("tree")
        .y_labels(n.min(20))
        .x_labels(super::layout::whole_ticks(last, 10))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(f.replacements.iter().map(|&(record, tree)| {
            Cross::new((record as f64, f64::from(tree)), 7, RGBColor(200, 30, 30).stroke_width(2))
        }))
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parent: Option<usize>, depth: u32) -> DrawnNode {
        DrawnNode {
            parent,
            edge: String::new(),
            depth,
            kind: DrawnKind::Leaf { class: None, weight: 0.0, share: 0.0, active: true },
        }
    }

    #[test]
    fn leaves_take_a_slot_each_and_parents_stand_over_their_children() {
        // root -> (a, b); a -> (c, d): c, d, b take slots 0, 1, 2.
        let top = [node(None, 0), node(Some(0), 1), node(Some(0), 1), node(Some(1), 2), node(Some(1), 2)];
        let (x, n) = slots(&top);
        assert_eq!(n, 3);
        assert_eq!(x, vec![1.25, 0.5, 2.0, 0.0, 1.0]);
        assert_eq!(fit("abcdefghij", 40, 10), "abcdef…");
    }
}
