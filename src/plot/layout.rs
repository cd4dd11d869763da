//! Where text goes: labels beside points that do not cover each other, and tick
//! counts for axes of whole numbers.

/// A box in pixels: left, top, width, height.
pub(crate) type PixelBox = (i32, i32, u32, u32);

/// Where each label goes beside its point, as an offset from the point to the
/// label's top-left corner, or `None` when no place is free (the legend still names
/// it). `points` are in pixels, `sizes` the labels' (width, height), `area` the box
/// labels must stay inside. Each label takes the first free place of: right above,
/// right below, left above, left below, above, below; a place is free when it
/// overlaps no label placed before and no point's mark (`mark` pixels each side).
pub(crate) fn place_labels(
    points: &[(i32, i32)],
    sizes: &[(u32, u32)],
    area: PixelBox,
    mark: i32,
) -> Vec<Option<(i32, i32)>> {
    let marks: Vec<PixelBox> =
        points.iter().map(|&(x, y)| (x - mark, y - mark, (2 * mark) as u32, (2 * mark) as u32)).collect();
    let mut placed: Vec<PixelBox> = Vec::new();
    points
        .iter()
        .zip(sizes)
        .map(|(&(x, y), &(w, h))| {
            let (wi, hi) = (w as i32, h as i32);
            let gap = mark + 3;
            let offsets = [
                (gap, -gap - hi),
                (gap, gap),
                (-gap - wi, -gap - hi),
                (-gap - wi, gap),
                (-wi / 2, -gap - hi),
                (-wi / 2, gap),
            ];
            let free = offsets.into_iter().find(|&(dx, dy)| {
                let b = (x + dx, y + dy, w, h);
                inside(b, area) && !placed.iter().chain(&marks).any(|&p| overlap(b, p))
            })?;
            placed.push((x + free.0, y + free.1, w, h));
            Some(free)
        })
        .collect()
}

fn inside(b: PixelBox, area: PixelBox) -> bool {
    b.0 >= area.0
        && b.1 >= area.1
        && b.0 + b.2 as i32 <= area.0 + area.2 as i32
        && b.1 + b.3 as i32 <= area.1 + area.3 as i32
}

/// True when the two boxes share pixels.
pub(crate) fn overlap(a: PixelBox, b: PixelBox) -> bool {
    a.0 < b.0 + b.2 as i32 && b.0 < a.0 + a.2 as i32 && a.1 < b.1 + b.3 as i32 && b.1 < a.1 + a.3 as i32
}

/// How many ticks to ask of an axis of whole numbers from 0 to `hi`: at most `most`,
/// and never more than there are whole numbers, so no two ticks print the same number.
pub(crate) fn whole_ticks(hi: f64, most: usize) -> usize {
    let whole = if hi.is_finite() && hi > 0.0 { (hi.floor() as usize).saturating_add(1) } else { 1 };
    whole.clamp(2, most.max(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::coord::ranged1d::Ranged;
    use plotters::coord::types::RangedCoordf64;
    use proptest::prelude::*;

    #[test]
    fn a_lone_label_goes_right_above_its_point() {
        let at = place_labels(&[(100, 100)], &[(40, 16)], (0, 0, 400, 400), 9);
        assert_eq!(at, vec![Some((12, -28))]);
    }

    #[test]
    fn labels_of_close_points_move_aside_or_give_way() {
        // Four points 5 px apart: no two labels may share a pixel.
        let points = [(200, 200), (205, 200), (200, 205), (205, 205)];
        let at = place_labels(&points, &[(60, 16); 4], (0, 0, 400, 400), 9);
        assert!(at.iter().filter(|p| p.is_some()).count() >= 2, "{at:?}");
        let boxes: Vec<PixelBox> =
            at.iter().zip(&points).filter_map(|(o, p)| o.map(|(dx, dy)| (p.0 + dx, p.1 + dy, 60, 16))).collect();
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(!overlap(*a, *b), "{a:?} {b:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn placed_labels_never_overlap_each_other_or_a_mark(
            points in proptest::collection::vec((0i32..300, 0i32..300), 1..24),
            w in 10u32..80,
        ) {
            let sizes = vec![(w, 16); points.len()];
            let area = (0, 0, 300, 300);
            let at = place_labels(&points, &sizes, area, 9);
            let boxes: Vec<PixelBox> = at.iter().zip(&points)
                .filter_map(|(o, p)| o.map(|(dx, dy)| (p.0 + dx, p.1 + dy, w, 16)))
                .collect();
            for (i, a) in boxes.iter().enumerate() {
                prop_assert!(inside(*a, area));
                for b in &boxes[i + 1..] {
                    prop_assert!(!overlap(*a, *b), "{:?} {:?}", a, b);
                }
                for p in &points {
                    prop_assert!(!overlap(*a, (p.0 - 9, p.1 - 9, 18, 18)));
                }
            }
        }

        #[test]
        fn whole_number_axes_print_no_tick_twice(hi in 1.0f64..5000.0, most in 2usize..12) {
            let ticks = RangedCoordf64::from(0.0..hi).key_points(whole_ticks(hi, most));
            let printed: Vec<String> = ticks.iter().map(|v| format!("{v:.0}")).collect();
            let mut unique = printed.clone();
            unique.dedup();
            prop_assert_eq!(unique, printed);
        }
    }
}
