//! `hedge`: the weighted-majority vote with discounted losses, by hand and against its
//! members run alone; the weight moving after a change; spec, file and state checks.

use eddy::model::registry::{build_text, Context};
use eddy::model::{ClassifierModel, Hedge, Model, WeightedMajority, NO_PREDICTION};
use eddy::model_file::{self, Header, Keys};
use eddy::OnlineClassifier;
use ndarray::{s, Array1, Array2};

/// Two features in [-1, 1]; the label is whether x0 > x1, flipped after record
/// `change`, then a share `noise` of labels flipped at random.
fn abrupt(n: usize, change: usize, noise: f64, seed: u64) -> (Array2<f64>, Array1<i64>) {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = Array2::from_shape_fn((n, 2), |_| next() * 2.0 - 1.0);
    let y = Array1::from_shape_fn(n, |i| i64::from(((x[[i, 0]] > x[[i, 1]]) != (i >= change)) != (next() < noise)));
    (x, y)
}

fn classifier(spec: &str) -> ClassifierModel {
    match Model::from_spec(spec).unwrap_or_else(|e| panic!("{spec}: {e}")) {
        Model::Classifier(m) => m,
        Model::Clusterer(_) => panic!("{spec}: a classifier"),
    }
}

fn hedge(spec: &str) -> Hedge {
    let model = classifier(spec);
    let json = serde_json::to_value(&model).expect("serialises");
    assert_eq!(json["head"]["kind"], "hedge", "{spec}");
    serde_json::from_value(json["head"]["state"].clone()).expect("a hedge's state")
}

/// Three members; A is wrong for 10 records while B and C are right, then the truth
/// changes and A is right while B and C are wrong. With decay 0.9, after the first
/// phase L_A = (1 - 0.9^10) / 0.1 = 6.5132 and L_B = L_C = 0. At the k-th record of the
/// second phase (before its update) L_A = 6.5132 * 0.9^k and L_B = L_C = 10 (1 - 0.9^k);
/// A outvotes B and C when exp(-L_A) > 2 exp(-L_B), i.e. L_B - L_A > ln 2, i.e.
/// 10 - 16.5132 * 0.9^k > 0.6931: k = 5 gives 0.249, k = 6 gives 1.224. So the vote
/// stays with B and C for six records and flips to A at the seventh.
#[test]
fn the_vote_flips_exactly_when_the_discounted_losses_say() {
    let mut vote = WeightedMajority::new(3, 0.9);
    for _ in 0..10 {
        assert_eq!(vote.vote(&[1, 0, 0]), 0);
        vote.update(&[1, 0, 0], 0);
    }
    let l_a = (1.0 - 0.9f64.powi(10)) / 0.1;
    assert!((vote.losses()[0] - l_a).abs() < 1e-12 && vote.losses()[1..] == [0.0, 0.0], "{:?}", vote.losses());
    let mut labels = Vec::new();
    for k in 0..12 {
        labels.push(vote.vote(&[1, 0, 0]));
        vote.update(&[1, 0, 0], 1);
        // The losses stay relative to the smallest: B and C's, then A's.
        let (la, lb) = (l_a * 0.9f64.powi(k + 1), 10.0 * (1.0 - 0.9f64.powi(k + 1)));
        let want = [la - la.min(lb), lb - la.min(lb), lb - la.min(lb)];
        for (got, want) in vote.losses().iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "record {k}: {:?} vs {want:?}", vote.losses());
        }
    }
    assert_eq!(labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    let w = vote.weights();
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12 && w[0] > 0.99, "{w:?}");
}

#[test]
fn ties_go_to_the_smallest_label_and_abstentions_do_not_vote() {
    let mut vote = WeightedMajority::new(4, 0.5);
    assert_eq!(vote.vote(&[3, 1, 1, 3]), 1, "equal weights, two against two");
    assert_eq!(vote.vote(&[3, NO_PREDICTION, NO_PREDICTION, 3]), 3);
    assert_eq!(vote.vote(&[NO_PREDICTION; 4]), NO_PREDICTION);
    // An abstention is an error: the abstaining members lose weight.
    vote.update(&[3, NO_PREDICTION, NO_PREDICTION, 3], 3);
    assert_eq!(vote.losses(), [0.0, 1.0, 1.0, 0.0]);
    assert_eq!(vote.vote(&[3, 1, 1, 1]), 1, "1 + 2/e > 1");
    assert_eq!(vote.vote(&[3, 1, 1, 7]), 3, "3 and 7 weigh 1 each, 1 weighs 2/e = 0.74: 3 and 7 tie");
}

/// Forgetting off (decay 1): losses grow without bound, but kept relative to the
/// smallest the best member still weighs 1 and the vote follows it.
#[test]
fn the_weights_never_all_underflow() {
    let mut vote = WeightedMajority::new(2, 1.0);
    for _ in 0..5000 {
        vote.update(&[0, 1], 1);
    }
    assert_eq!(vote.losses(), [5000.0, 0.0]);
    assert_eq!(vote.weights(), [0.0, 1.0]);
    assert_eq!(vote.vote(&[0, 1]), 1);
}

/// The stage labels each record with the vote of what its members, each run alone on
/// the stream, predict; the members are left exactly as if run alone (the default's
/// shared scaler included).
#[test]
fn the_stage_is_the_vote_of_its_members_run_alone() {
    let members = [
        "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.002)",
        "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.1)",
        "scale | sgd(alpha=0, learning_rate=constant, eta0=0.005)",
        "gaussian-nb",
    ];
    let spec = format!("hedge(models=[{}], decay=0.99)", members.join(", "));
    let (x, y) = abrupt(6000, 3000, 0.1, 5);
    let mut stage = hedge(&spec);
    let mut labels = Vec::new();
    for lo in (0..x.nrows()).step_by(700) {
        let hi = (lo + 700).min(x.nrows());
        labels.extend(stage.learn_predict(x.slice(s![lo..hi, ..]), y.slice(s![lo..hi])).expect("valid"));
    }
    let mut alone: Vec<ClassifierModel> = members.iter().map(|m| classifier(m)).collect();
    let predictions: Vec<Array1<i64>> =
        alone.iter_mut().map(|m| m.learn_predict(x.view(), y.view()).expect("valid")).collect();
    let mut vote = WeightedMajority::new(members.len(), 0.99);
    for i in 0..x.nrows() {
        let row: Vec<i64> = predictions.iter().map(|p| p[i]).collect();
        assert_eq!(labels[i], vote.vote(&row), "record {i}");
        vote.update(&row, y[i]);
    }
    assert_eq!(stage.vote().losses(), vote.losses());
    for (member, single) in stage.members().iter().zip(&alone) {
        assert_eq!(serde_json::to_string(member).ok(), serde_json::to_string(single).ok(), "{}", single.spec());
    }
    // And the vote moved: not every record went the way of one member.
    let followed = |m: usize| (0..x.nrows()).filter(|&i| labels[i] == predictions[m][i]).count();
    assert!((0..members.len()).all(|m| followed(m) < x.nrows()), "the vote followed one member throughout");
}

/// With one member, the ensemble predicts exactly what the member predicts, from the
/// first record (nothing known: no prediction) on.
#[test]
fn with_one_member_it_predicts_what_the_member_predicts() {
    for member in ["sgd", "scale | gaussian-nb", "perceptron(eta0=0.5)", "drift-retrain(model=scale | sgd)"] {
        let (x, y) = crate::util::blobs_for(false, 3, 900);
        let mut stage = classifier(&format!("hedge(models=[{member}])"));
        let mut single = classifier(member);
        for lo in (0..900).step_by(128) {
            let (xb, yb) = (x.slice(s![lo..(lo + 128).min(900), ..]), y.slice(s![lo..(lo + 128).min(900)]));
            let (a, b) = (stage.learn_predict(xb, yb).expect("valid"), single.learn_predict(xb, yb).expect("valid"));
            assert_eq!(a, b, "{member}: records {lo}..");
        }
        assert_eq!(stage.predict(x.view()).expect("valid"), single.predict(x.view()).expect("valid"), "{member}");
        assert_eq!(stage.classes(), single.classes(), "{member}");
    }
    let fresh = classifier("hedge(models=[sgd])");
    let (x, y) = crate::util::blobs_for(false, 3, 5);
    assert_eq!(classifier("hedge(models=[sgd])").learn_predict(x.view(), y.view()).expect("valid")[0], NO_PREDICTION);
    assert!(fresh.predict(x.view()).is_err(), "nothing learned: no classes to predict");
}

/// After an abrupt change the weight moves from the slow, precise member to the fast
/// one, and the ensemble recovers as fast as the fast member alone.
#[test]
fn after_an_abrupt_change_the_weight_moves_to_the_fast_member() {
    let slow = "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.001)";
    let fast = "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.2)";
    let (x, y) = abrupt(12_000, 8000, 0.1, 11);
    let mut stage = hedge(&format!("hedge(models=[{slow}, {fast}])"));
    let mut weights = Vec::new();
    let mut labels = Vec::new();
    for i in 0..x.nrows() {
        labels.extend(stage.learn_predict(x.slice(s![i..=i, ..]), y.slice(s![i..=i])).expect("valid"));
        weights.push(stage.weights());
    }
    // Stable: the slow member makes fewer errors on the noisy labels and holds the vote.
    assert!(weights[7999][0] > 0.9, "before the change: {:?}", weights[7999]);
    let moved = (8000..x.nrows()).find(|&i| weights[i][1] > 0.9).expect("the weight moves to the fast member");
    assert!(moved < 8400, "the fast member took over at {moved}");
    let accuracy = |labels: &[i64], r: std::ops::Range<usize>| {
        r.clone().filter(|&i| labels[i] == y[i]).count() as f64 / r.len() as f64
    };
    let alone = |spec: &str| classifier(spec).learn_predict(x.view(), y.view()).expect("valid").to_vec();
    let (slow_labels, fast_labels) = (alone(slow), alone(fast));
    let after = 8000..9000;
    assert!(
        accuracy(&labels, after.clone()) > accuracy(&slow_labels, after.clone()) + 0.2,
        "after the change: hedge {} vs slow {}",
        accuracy(&labels, after.clone()),
        accuracy(&slow_labels, after.clone())
    );
    assert!(
        accuracy(&labels, 2000..8000) > accuracy(&fast_labels, 2000..8000),
        "stable: hedge {} vs fast {}",
        accuracy(&labels, 2000..8000),
        accuracy(&fast_labels, 2000..8000)
    );
}

#[test]
fn the_spec_round_trips_and_bad_ones_are_refused() {
    assert_eq!(Model::from_spec("hedge").expect("valid").spec(), "hedge");
    let spec = "hedge(models=[sgd(loss=log_loss), scale | gaussian-nb, drift-retrain(model=perceptron)], decay=0.9)";
    let m = Model::from_spec(spec).expect("valid");
    assert_eq!(m.spec(), spec);
    assert_eq!(Model::from_spec(&m.spec()).expect("reads back").spec(), spec);
    // Written loosely, printed canonically.
    let loose = Model::from_spec("scale | hedge(models=[ sgd(loss=log, alpha=0, learning_rate=constant) ])");
    assert_eq!(
        loose.expect("valid").spec(),
        "scale | hedge(models=[sgd(loss=log_loss, alpha=0, learning_rate=constant)])"
    );
    for (bad, says) in [
        ("hedge(models=[])", "hedge: models must be a list of 1 to 64 classifiers"),
        ("hedge(models=sgd)", "hedge: models must be a list"),
        ("hedge(models=[minibatch-kmeans])", "hedge: models must be a list of 1 to 64 classifiers in the model language, [MODEL, MODEL, ...], got a clusterer"),
        ("hedge(models=[sgd, 3])", "got 3 in the list"),
        ("hedge(models=[sgd(alhpa=1)])", "did you mean alpha"),
        ("hedge(decay=1.5)", "hedge: decay must be a number >= 0 and <= 1"),
    ] {
        let err = Model::from_spec(bad).expect_err(bad);
        assert!(err.message.contains(says), "{bad}: {err}");
    }
    let many = format!("hedge(models=[{}])", vec!["sgd"; 65].join(", "));
    assert!(Model::from_spec(&many).expect_err("65 members").message.contains("got 65 models"));
}

/// Declared classes reach every member, as `eddy run --classes` declares them.
#[test]
fn declared_classes_pass_to_every_member() {
    let ctx = Context { classes: Some(vec![0, 1, 5]), ..Default::default() };
    let (_, model) = build_text("hedge", &ctx).expect("valid");
    let Model::Classifier(chain) = model else { panic!("a classifier") };
    assert_eq!(chain.classes(), [0, 1, 5]);
    let json = serde_json::to_value(&chain).expect("serialises");
    let stage: Hedge = serde_json::from_value(json["head"]["state"].clone()).expect("a hedge");
    assert!(stage.members().iter().all(|m| m.classes() == [0, 1, 5]));
    let mut chain = chain;
    let (x, _) = abrupt(10, 5, 0.0, 1);
    let refused = chain.learn_predict(x.view(), Array1::from_elem(10, 2).view());
    assert!(refused.is_err(), "a label outside the declared classes is refused");
}

#[test]
fn a_model_file_round_trips_and_goes_on_learning_alike() {
    let dir = std::env::temp_dir().join(format!("eddy-hedge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("hedge.eddy");
    let mut model = Model::from_spec("hedge").expect("valid");
    let (x, y) = abrupt(4000, 2000, 0.1, 2);
    let Model::Classifier(m) = &mut model else { unreachable!() };
    m.learn_predict(x.slice(s![..3000, ..]), y.slice(s![..3000])).expect("valid");
    let header = Header::new("model", vec!["a".into(), "b".into()], None, 3000);
    model_file::save(&path, &header, &model, &Keys::default()).expect("saves");
    let (_, mut back): (Header, Model) = model_file::load(&path, "model", &Keys::default()).expect("loads");
    assert_eq!(back.spec(), "hedge");
    assert_eq!(serde_json::to_string(&back).ok(), serde_json::to_string(&model).ok());
    let (Model::Classifier(a), Model::Classifier(b)) = (&mut model, &mut back) else { unreachable!() };
    let rest = (x.slice(s![3000.., ..]), y.slice(s![3000..]));
    assert_eq!(a.learn_predict(rest.0, rest.1).expect("valid"), b.learn_predict(rest.0, rest.1).expect("valid"));
    assert_eq!(a.predict_proba(x.view()).expect("valid"), b.predict_proba(x.view()).expect("valid"));
    assert_eq!(serde_json::to_string(&model).ok(), serde_json::to_string(&back).ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A decoded ensemble that does not fit together is refused, saying why.
#[test]
fn a_hostile_state_is_refused() {
    let mut model = Model::from_spec("hedge(models=[sgd, scale | gaussian-nb, perceptron])").expect("valid");
    let (x, y) = crate::util::blobs_for(false, 1, 300);
    let Model::Classifier(m) = &mut model else { unreachable!() };
    m.learn_predict(x.view(), y.view()).expect("valid");
    let good = serde_json::to_value(&model).expect("serialises");
    assert!(serde_json::from_value::<Model>(good.clone()).is_ok());
    let other = {
        // A member that learned other classes.
        let mut m = classifier("sgd");
        m.learn_predict(x.view(), y.mapv(|c| c + 10).view()).expect("valid");
        serde_json::to_value(&m).expect("serialises")
    };
    let narrow = {
        let mut m = classifier("sgd");
        m.learn_predict(x.slice(s![.., ..2]), y.view()).expect("valid");
        serde_json::to_value(&m).expect("serialises")
    };
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let changes: Vec<(&str, Change, &str)> = vec![
        (
            "a loss too many",
            Box::new(|s| s["vote"]["losses"].as_array_mut().expect("losses").push(0.0.into())),
            "losses for 3 members",
        ),
        ("a negative loss", Box::new(|s| s["vote"]["losses"][1] = (-1.0).into()), "not finite numbers >= 0"),
        (
            "no loss at 0",
            Box::new(|s| s["vote"]["losses"] = serde_json::json!([1.0, 2.0, 3.0])),
            "the smallest loss is 1",
        ),
        ("decay 2", Box::new(|s| s["vote"]["decay"] = 2.0.into()), "decay 2 is not in [0, 1]"),
        (
            "no members",
            Box::new(|s| {
                s["members"] = serde_json::json!([]);
                s["vote"]["losses"] = serde_json::json!([]);
            }),
            "0 members",
        ),
        ("other classes", Box::new(move |s| s["members"][0] = other.clone()), "the members know different classes"),
        ("a narrower member", Box::new(move |s| s["members"][2] = narrow.clone()), "a member takes Some(2) features"),
        ("zero features", Box::new(|s| s["n_features"] = 0.into()), "zero features"),
    ];
    for (what, change, says) in changes {
        let mut bad = good.clone();
        change(&mut bad["classifier"]["head"]["state"]);
        let err = serde_json::from_value::<Model>(bad).expect_err(what).to_string();
        assert!(err.contains("hedge: inconsistent state") && err.contains(says), "{what}: {err}");
    }
}
