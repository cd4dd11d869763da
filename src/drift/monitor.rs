//! A detector watching a stream, turned into events with the means around them.

use super::{Detector, Signal};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The most recent values a [`Monitor`] keeps for `mean_after`.
const MAX_RECENT: usize = 100_000;

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The detector entered its warning zone.
    Warning,
    /// The detector found a drift.
    Drift,
}

/// One warning or drift, with the stream's level before and after it.
///
/// - For ADWIN's drifts, `mean_before` is the mean of the part of the window it
///   dropped and `mean_after` the mean of the part it kept.
/// - Otherwise `mean_after` is the mean of the last [`Detector::recent_window`]
///   values (the detector's own test window or warm-up length), and `mean_before`
///   the mean of the values before those, back to the previous drift (or the start
///   of the stream). `None` when there are no such values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Warning or drift.
    pub kind: EventKind,
    /// The level before the change.
    pub mean_before: Option<f64>,
    /// The level after it.
    pub mean_after: Option<f64>,
}

/// A detector fed one value at a time that reports events: every drift, and a
/// warning when the detector enters its warning zone (River's `warning_detected`
/// holds while the zone lasts; one event marks its start). After a drift the
/// detector and the means start afresh.
///
/// It is saved in checkpoints; a decoded one is checked before it is used.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "MonitorParts")]
pub struct Monitor {
    detector: Box<dyn Detector>,
    recent: VecDeque<f64>,
    window: usize,
    /// Sum and count of the values since the previous drift.
    since: (f64, u64),
    in_warning: bool,
    warnings: u64,
    drifts: u64,
}

/// A monitor as decoded, before it is checked.
#[derive(Deserialize)]
struct MonitorParts {
    detector: Box<dyn Detector>,
    recent: VecDeque<f64>,
    window: usize,
    since: (f64, u64),
    in_warning: bool,
    warnings: u64,
    drifts: u64,
}

impl TryFrom<MonitorParts> for Monitor {
    type Error = String;
    fn try_from(p: MonitorParts) -> Result<Self, String> {
        if !(1..=MAX_RECENT).contains(&p.window) || p.recent.len() > p.window {
            return Err(format!("a monitor window of {} holding {} values", p.window, p.recent.len()));
        }
        if !p.since.0.is_finite() || p.since.1 < p.recent.len() as u64 || p.recent.iter().any(|v| !v.is_finite()) {
            return Err("a monitor whose running values do not add up".into());
        }
        Ok(Self {
            detector: p.detector,
            recent: p.recent,
            window: p.window,
            since: p.since,
            in_warning: p.in_warning,
            warnings: p.warnings,
            drifts: p.drifts,
        })
    }
}

impl Monitor {
    /// Watch with `detector`.
    pub fn new(detector: Box<dyn Detector>) -> Self {
        let window = detector.recent_window().clamp(1, MAX_RECENT);
        Self {
            detector,
            recent: VecDeque::with_capacity(window),
            window,
            since: (0.0, 0),
            in_warning: false,
            warnings: 0,
            drifts: 0,
        }
    }

    /// The detector.
    pub fn detector(&self) -> &dyn Detector {
        self.detector.as_ref()
    }

    /// Warning and drift events so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.warnings, self.drifts)
    }

    /// Take one value (checked by [`Detector::check_value`] first, by the caller).
    pub fn update(&mut self, x: f64) -> Option<Event> {
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(x);
        self.since.0 += x;
        self.since.1 = self.since.1.saturating_add(1);
        match self.detector.update(x) {
            Signal::None => {
                self.in_warning = false;
                None
            }
            Signal::Warning if self.in_warning => None,
            Signal::Warning => {
                self.in_warning = true;
                self.warnings = self.warnings.saturating_add(1);
                let (mean_before, mean_after) = self.means();
                Some(Event { kind: EventKind::Warning, mean_before, mean_after })
            }
            Signal::Drift => {
                self.drifts = self.drifts.saturating_add(1);
                let (mean_before, mean_after) = match self.detector.split_means() {
                    Some((before, after)) => (Some(before), Some(after)),
                    None => self.means(),
                };
                self.recent.clear();
                self.since = (0.0, 0);
                self.in_warning = false;
                Some(Event { kind: EventKind::Drift, mean_before, mean_after })
            }
        }
    }

    /// Mean of the values before the recent window (since the last drift), and of the window.
    fn means(&self) -> (Option<f64>, Option<f64>) {
        let recent_sum: f64 = self.recent.iter().sum();
        let r = self.recent.len() as u64;
        let after = (r > 0).then(|| recent_sum / r as f64);
        let (sum, n) = self.since;
        let before = (n > r).then(|| (sum - recent_sum) / (n - r) as f64);
        (before, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::build_text;

    #[test]
    fn a_step_gives_one_drift_with_the_levels_on_both_sides() {
        let mut m = Monitor::new(build_text("adwin").expect("valid"));
        let events: Vec<(usize, Event)> =
            (0..3000).filter_map(|i| m.update(if i < 1500 { 1.0 } else { 5.0 }).map(|e| (i, e))).collect();
        assert_eq!(events.len(), 1, "{events:?}");
        let (at, e) = events[0];
        assert!((1500..1600).contains(&at));
        assert_eq!((e.kind, e.mean_before), (EventKind::Drift, Some(1.0)));
        // ADWIN stops dropping once no split is significant: ones may stay in the kept part.
        assert!(e.mean_after.is_some_and(|m| m > 1.0 && m <= 5.0), "{e:?}");
    }

    #[test]
    fn a_warning_zone_is_one_event_and_means_come_from_the_recent_window() {
        let mut m = Monitor::new(build_text("ddm").expect("valid"));
        let mut events = Vec::new();
        for i in 0..3000u64 {
            let x = f64::from(u8::from(i.is_multiple_of(if i < 1000 { 10 } else { 2 })));
            if let Some(e) = m.update(x) {
                events.push(e);
                if e.kind == EventKind::Drift {
                    break;
                }
            }
        }
        let drift = events.last().expect("a drift");
        assert_eq!(drift.kind, EventKind::Drift);
        assert!(events.iter().filter(|e| e.kind == EventKind::Warning).count() <= 3, "{events:?}");
        // Thirty values at one error in two after the change; about one in ten before.
        assert_eq!(drift.mean_after, Some(0.5));
        let before = drift.mean_before.expect("values before the window");
        assert!((0.09..0.2).contains(&before), "{before}");
    }
}
