//! `drift-retrain`: River's DriftRetrainingClassifier semantics, checked against the
//! same detector fed the same errors.

use eddy::drift::Signal;
use eddy::model::{DriftRetrain, Model};
use eddy::OnlineClassifier;
use ndarray::{s, Array1, Array2};

/// Two features; the label is whether x0 > x1, and flips at record `change`.
fn abrupt(n: usize, change: usize, seed: u64) -> (Array2<f64>, Array1<i64>) {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let x = Array2::from_shape_fn((n, 2), |_| next());
    let y = Array1::from_shape_fn(n, |i| i64::from((x[[i, 0]] > x[[i, 1]]) != (i >= change)));
    (x, y)
}

/// The wrapper as `drift-retrain(model=MODEL, detector=DETECTOR, ...)` builds it.
fn wrapper(model: &str, detector: &str, background: bool) -> DriftRetrain {
    let Model::Classifier(chain) = Model::from_spec(model).expect("valid") else { panic!("a classifier") };
    DriftRetrain::new(chain, eddy::drift::build_text(detector).expect("a detector"), background)
}

/// The wrapper swaps at the record where the detector, fed the unwrapped model's errors,
/// first signals a drift; the model it swaps in is the background model, which learned
/// exactly the records that came while the detector warned (then the signalling one).
#[test]
fn the_model_is_replaced_at_the_record_that_signalled() {
    for (detector, background) in [("ddm", true), ("ddm", false), ("adwin", true), ("hddm-a", true)] {
        let spec = format!("drift-retrain(model=sgd, detector={detector}, train_in_background={background})");
        let (x, y) = abrupt(6000, 3000, 7);
        let mut wrapped = wrapper("sgd", detector, background);
        // The spec builds the same wrapper (compared by state once both have learned).
        let Model::Classifier(mut built) = Model::from_spec(&spec).expect("valid") else { unreachable!() };
        let mut plain = Model::from_spec("sgd").expect("valid");
        let mut alone = eddy::drift::build_text(detector).expect("a detector");
        let Model::Classifier(plain) = &mut plain else { unreachable!() };
        let (mut expected, mut warned) = (None, 0u64);
        let mut swapped = None;
        for i in 0..x.nrows() {
            let (row, label) = (x.slice(s![i..=i, ..]), y.slice(s![i..=i]));
            let got = wrapped.learn_predict(row, label).expect("valid")[0];
            if swapped.is_none() && wrapped.signals().1 == 1 {
                swapped = Some(i);
            }
            if expected.is_some() {
                continue;
            }
            let p = plain.learn_predict(row, label).expect("valid")[0];
            assert_eq!(got, p, "{spec}: until the first drift the wrapped model is the plain one (record {i})");
            if p == eddy::model::NO_PREDICTION {
                continue;
            }
            match alone.update(if p == label[0] { 0.0 } else { 1.0 }) {
                Signal::Warning => warned += 1,
                Signal::Drift => expected = Some((i, warned)),
                Signal::None => {}
            }
        }
        let (at, warned) = expected.unwrap_or_else(|| panic!("{spec}: the detector finds the change"));
        assert!(at >= 3000, "{spec}: no false alarm before the change (drift at {at})");
        assert_eq!(swapped, Some(at), "{spec}");
        built.learn_predict(x.view(), y.view()).expect("valid");
        assert_eq!(built.records_seen(), wrapped.records_seen(), "{spec}");
        assert_eq!(built.predict(x.view()).ok(), wrapped.predict(x.view()).ok(), "{spec}: the spec's wrapper");
        if swapped == Some(at) && wrapped.signals().1 == 1 {
            // Still the first replacement: it learned the warned records (with a
            // background model) and the signalling one, then what came after.
            let after = (x.nrows() - at - 1) as u64;
            let learned = if background { warned + 1 + after } else { 1 + after };
            assert_eq!(wrapped.model().records_seen(), learned, "{spec}");
        }
    }
}

/// After an abrupt change, retraining beats keeping the old model.
#[test]
fn retraining_recovers_accuracy_after_an_abrupt_change() {
    let (x, y) = abrupt(20_000, 10_000, 3);
    let accuracy_after = |spec: &str| {
        let Model::Classifier(mut m) = Model::from_spec(spec).expect("valid") else { unreachable!() };
        let labels = m.learn_predict(x.view(), y.view()).expect("valid");
        let tail = 15_000..20_000;
        tail.clone().filter(|&i| labels[i] == y[i]).count() as f64 / tail.len() as f64
    };
    let plain = accuracy_after("gaussian-nb");
    let wrapped = accuracy_after("drift-retrain(model=gaussian-nb)");
    assert!(wrapped > plain + 0.1, "retrained {wrapped} vs plain {plain}");
}

/// The wrapper and its detector are saved and restored exactly, and print as written.
#[test]
fn a_wrapper_round_trips_through_its_spec_and_its_state() {
    let spec = "drift-retrain(model=scale | sgd(loss=log_loss), detector=adwin(delta=0.01), train_in_background=false)";
    let mut m = Model::from_spec(spec).expect("valid");
    assert_eq!(m.spec(), spec);
    let (x, y) = abrupt(3000, 1500, 1);
    let Model::Classifier(c) = &mut m else { unreachable!() };
    c.learn_predict(x.view(), y.view()).expect("valid");
    let copy: Model = serde_json::from_str(&serde_json::to_string(&m).expect("serialises")).expect("decodes");
    assert_eq!(serde_json::to_string(&copy).ok(), serde_json::to_string(&m).ok());
    // A clusterer where a classifier belongs is refused, naming the parameter.
    let err = Model::from_spec("drift-retrain(model=minibatch-kmeans)").expect_err("a clusterer");
    assert!(err.message.contains("model must be a classifier"), "{err}");
    let err = Model::from_spec("drift-retrain(detector=adwn)").expect_err("no such detector");
    assert!(err.message.contains("did you mean adwin"), "{err}");
}
