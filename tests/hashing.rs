//! Feature hashing: MurmurHash3 against published vectors and scikit-learn, and
//! `FeatureHasher` rows against scikit-learn 1.9.1's, exactly, from the committed
//! fixture `tests/fixtures/sklearn/hashing.json` (made by `tests/fixtures/generate.sh hashing`).

use crate::util::fixture;
use eddy::hashing::{murmurhash3_32, FeatureHasher, HashValue, HashingError, MAX_N_FEATURES};
use proptest::prelude::*;
use serde_json::Value;

/// Published MurmurHash3_x86_32 vectors (key, seed, unsigned hash), from the reference
/// implementation's users; each also checked against scikit-learn when they were added.
const VECTORS: &[(&[u8], u32, u32)] = &[
    (b"", 0, 0),
    (b"", 1, 0x514e_28b7),
    (b"", 0xffff_ffff, 0x81f1_6f39),
    (b"\xff\xff\xff\xff", 0, 0x7629_3b50),
    (b"\x21\x43\x65\x87", 0, 0xf55b_516b),
    (b"\x21\x43\x65\x87", 0x5082_edee, 0x2362_f9de),
    (b"\x21\x43\x65", 0, 0x7e4a_8634),
    (b"\x21\x43", 0, 0xa0f7_b07a),
    (b"\x21", 0, 0x7266_1cf4),
    (b"\0\0\0\0", 0, 0x2362_f9de),
    (b"\0\0\0", 0, 0x85f0_b427),
    (b"\0\0", 0, 0x30f4_c306),
    (b"\0", 0, 0x514e_28b7),
    (b"aaaa", 0x9747_b28c, 0x5a97_808a),
    (b"aaa", 0x9747_b28c, 0x283e_0130),
    (b"aa", 0x9747_b28c, 0x5d21_1726),
    (b"a", 0x9747_b28c, 0x7fa0_9ea6),
    (b"abcd", 0x9747_b28c, 0xf047_8627),
    (b"abc", 0x9747_b28c, 0xc84a_62dd),
    (b"ab", 0x9747_b28c, 0x7487_5592),
    (b"Hello, world!", 0x9747_b28c, 0x2488_4cba),
    ("ππππππππ".as_bytes(), 0x9747_b28c, 0xd580_63c1),
    (b"abc", 0, 0xb3dd_93fa),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0, 0xee92_5b90),
    (b"The quick brown fox jumps over the lazy dog", 0x9747_b28c, 0x2fa8_26cd),
];

#[test]
fn published_vectors() {
    for &(key, seed, expected) in VECTORS {
        assert_eq!(murmurhash3_32(key, seed) as u32, expected, "key {key:?} seed {seed:#x}");
    }
    assert_eq!(murmurhash3_32(&[b'a'; 256], 0x9747_b28c) as u32, 0x3740_5bdc);
}

/// SMHasher's own self-check (`VerificationTest`): hash the keys [], [0], [0, 1], ...,
/// [0..255] with seeds 256, 255, ..., 1, then hash the 256 results (little-endian)
/// with seed 0. SMHasher lists 0xB0F57EE3 for MurmurHash3_x86_32.
#[test]
fn smhasher_verification_value() {
    let key: Vec<u8> = (0..=255).collect();
    let mut hashes = Vec::with_capacity(1024);
    for i in 0..256 {
        hashes.extend_from_slice(&murmurhash3_32(&key[..i], 256 - i as u32).to_le_bytes());
    }
    assert_eq!(murmurhash3_32(&hashes, 0) as u32, 0xb0f5_7ee3);
}

/// From scikit-learn's `test_murmurhash.py`: signed results; an int key is its 4 bytes.
#[test]
fn scikit_learn_unit_values() {
    assert_eq!(murmurhash3_32(b"foo", 0), -156_908_512);
    assert_eq!(murmurhash3_32(b"foo", 42), -1_322_301_282);
    assert_eq!(murmurhash3_32(b"foo", 42) as u32, 2_972_666_014);
    assert_eq!(murmurhash3_32(&3i32.to_le_bytes(), 0), 847_579_505);
    assert_eq!(murmurhash3_32(b"Hello World!", 42), 3_565_178);
}

#[test]
fn n_features_range_is_scikit_learns() {
    assert_eq!(FeatureHasher::new(0, true), Err(HashingError::NFeatures(0)));
    assert_eq!(FeatureHasher::new(MAX_N_FEATURES + 1, false), Err(HashingError::NFeatures(MAX_N_FEATURES + 1)));
    assert_eq!(MAX_N_FEATURES, (1 << 31) - 1);
    let h = FeatureHasher::new(MAX_N_FEATURES, false).expect("2**31 - 1 is allowed");
    assert_eq!((h.n_features(), h.alternate_sign()), (MAX_N_FEATURES, false));
    assert!(FeatureHasher::new(1, true).is_ok());
    let message = FeatureHasher::new(0, true).expect_err("0 is refused").to_string();
    assert!(message.contains("n_features") && message.contains("got 0"), "{message}");
}

fn i32_of(v: &Value) -> i32 {
    i32::try_from(v.as_i64().expect("integer")).expect("an i32")
}

#[test]
fn murmurhash_matches_scikit_learn() {
    let case = fixture("hashing");
    assert_eq!(case["sklearn_version"], "1.9.1");
    let entries = case["murmurhash3_32"].as_array().expect("murmurhash3_32");
    assert!(entries.len() >= 100, "{} hashes", entries.len());
    let mut extremes = (false, false);
    for e in entries {
        let key = hex::decode(e["key_hex"].as_str().expect("key_hex")).expect("hex");
        if let Some(text) = e["text"].as_str() {
            assert_eq!(text.as_bytes(), key.as_slice(), "text and key_hex disagree");
        }
        let seed = u32::try_from(e["seed"].as_u64().expect("seed")).expect("a u32 seed");
        let expected = i32_of(&e["hash"]);
        assert_eq!(murmurhash3_32(&key, seed), expected, "key {:?} seed {seed}", String::from_utf8_lossy(&key));
        if seed == 0 {
            extremes.0 |= expected == i32::MIN;
            extremes.1 |= expected == 0;
        }
    }
    assert_eq!(extremes, (true, true), "the fixture has keys hashing to i32::MIN and to 0");
}

/// A fixture record: `[name, value]` pairs in the dict's order, strings or numbers.
fn record(v: &Value) -> Vec<(&str, HashValue<'_>)> {
    v.as_array()
        .expect("record")
        .iter()
        .map(|pair| {
            let name = pair[0].as_str().expect("name");
            let value = match &pair[1] {
                Value::String(s) => HashValue::Str(s),
                n => HashValue::Num(n.as_f64().expect("number")),
            };
            (name, value)
        })
        .collect()
}

#[test]
fn feature_hasher_rows_match_scikit_learn() {
    let case = fixture("hashing");
    let records: Vec<_> = case["records"].as_array().expect("records").iter().map(record).collect();
    assert!(records.len() >= 200, "{} records", records.len());
    let transforms = case["transforms"].as_array().expect("transforms");
    let configs: Vec<_> = transforms
        .iter()
        .map(|t| (t["n_features"].as_u64().expect("n_features"), t["alternate_sign"].as_bool().expect("sign")))
        .collect();
    // The six settings cover every record; others (n_features not a power of two, where
    // the column of the hash i32::MIN is not 0) cover the hand-written ones at the start.
    for n in [1 << 18, 16, 1] {
        for sign in [true, false] {
            let t = transforms.iter().find(|t| t["n_features"] == n && t["alternate_sign"] == sign);
            let rows = t.map_or(0, |t| t["rows"].as_array().expect("rows").len());
            assert_eq!(rows, records.len(), "n_features={n}, alternate_sign={sign}");
        }
    }
    assert!(configs.contains(&(1000, true)) && configs.contains(&(MAX_N_FEATURES as u64, false)));
    let (mut entries, mut explicit_zeros) = (0, 0);
    let mut row = Vec::new();
    for t in transforms {
        let n_features = usize::try_from(t["n_features"].as_u64().expect("n_features")).expect("usize");
        let alternate_sign = t["alternate_sign"].as_bool().expect("alternate_sign");
        let hasher = FeatureHasher::new(n_features, alternate_sign).expect("valid");
        let rows = t["rows"].as_array().expect("rows");
        assert!(!rows.is_empty() && rows.len() <= records.len());
        for (r, (rec, expected)) in records.iter().zip(rows).enumerate() {
            let columns: Vec<usize> = expected[0]
                .as_array()
                .expect("indices")
                .iter()
                .map(|i| usize::try_from(i.as_u64().expect("index")).expect("usize"))
                .collect();
            let values: Vec<f64> =
                expected[1].as_array().expect("data").iter().map(|x| x.as_f64().expect("value")).collect();
            let want: Vec<(usize, f64)> = columns.into_iter().zip(values).collect();
            hasher.transform_into(rec.iter().copied(), &mut row);
            // Bit for bit: to_bits tells 0.0 from -0.0 and compares every last digit.
            let bits = |v: &[(usize, f64)]| v.iter().map(|&(i, x)| (i, x.to_bits())).collect::<Vec<_>>();
            assert_eq!(
                bits(&row),
                bits(&want),
                "record {r} {rec:?}, n_features={n_features}, alternate_sign={alternate_sign}: got {row:?}, scikit-learn {want:?}"
            );
            assert_eq!(hasher.transform_one(rec.iter().copied()), row);
            entries += want.len();
            explicit_zeros += want.iter().filter(|&&(_, x)| x == 0.0).count();
        }
    }
    assert!(entries > 1000, "{entries} entries");
    // Columns whose values cancel stay as explicit zeros in scipy's CSR; the fixture has some.
    assert!(explicit_zeros > 0);
}

/// `hash_into` passes every non-zero feature, in the record's order, before any summing.
#[test]
fn hash_into_passes_each_feature_in_order() {
    let hasher = FeatureHasher::new(1, false).expect("valid");
    let mut seen = Vec::new();
    let record = [("a", HashValue::Num(2.0)), ("z", HashValue::Num(-0.0)), ("b", "x".into()), ("c", 0.5.into())];
    hasher.hash_into(record, |i, v| seen.push((i, v)));
    assert_eq!(seen, vec![(0, 2.0), (0, 1.0), (0, 0.5)]);
}

/// A string value hashes as the key `name=value`; a number as the key `name`.
#[test]
fn keys_are_name_equals_value() {
    let hasher = FeatureHasher::new(MAX_N_FEATURES, true).expect("valid");
    let expect = |key: &str, weight: f64| {
        let h = murmurhash3_32(key.as_bytes(), 0);
        Some((h.unsigned_abs() as usize % MAX_N_FEATURES, if h < 0 { -weight } else { weight }))
    };
    assert_eq!(hasher.hash_feature("city", HashValue::Str("東京")), expect("city=東京", 1.0));
    assert_eq!(hasher.hash_feature("a", HashValue::Str("b")), expect("a=b", 1.0));
    assert_eq!(hasher.hash_feature("a=b", HashValue::Num(1.0)), expect("a=b", 1.0));
    assert_eq!(hasher.hash_feature("", HashValue::Str("")), expect("=", 1.0));
    assert_eq!(hasher.hash_feature("price", HashValue::Num(-3.5)), expect("price", -3.5));
    assert_eq!(hasher.hash_feature("price", HashValue::Num(0.0)), None);
    assert_eq!(hasher.hash_feature("price", HashValue::Num(-0.0)), None);
}

fn value() -> impl Strategy<Value = (String, Option<f64>)> {
    // (string, None) for a categorical value, (_, Some(x)) for a number, zeros included.
    prop_oneof![
        "\\PC{0,12}".prop_map(|s| (s, None)),
        (-1e12f64..1e12).prop_map(|x| (String::new(), Some(x))),
        prop_oneof![Just(0.0), Just(-0.0), Just(1e300), Just(-5e-324)].prop_map(|x| (String::new(), Some(x))),
    ]
}

fn as_pairs(features: &[(String, (String, Option<f64>))]) -> Vec<(&str, HashValue<'_>)> {
    features.iter().map(|(name, (s, x))| (name.as_str(), x.map_or(HashValue::Str(s), HashValue::Num))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every column is below n_features; |value| is the input's (1 for a string), its
    /// sign flipped only with alternate_sign and then exactly when the hash is negative.
    #[test]
    fn columns_in_range_and_values_signed(
        features in proptest::collection::vec(("\\PC{0,10}", value()), 0..20),
        n_features in prop_oneof![1usize..64, Just(1 << 18), Just(MAX_N_FEATURES)],
    ) {
        let pairs = as_pairs(&features);
        for alternate_sign in [true, false] {
            let hasher = FeatureHasher::new(n_features, alternate_sign).expect("valid");
            let mut seen = Vec::new();
            hasher.hash_into(pairs.iter().copied(), |i, v| seen.push((i, v)));
            let nonzero: Vec<_> = pairs.iter().filter(|(_, v)| !matches!(v, HashValue::Num(x) if *x == 0.0)).collect();
            prop_assert_eq!(seen.len(), nonzero.len());
            for (&(i, v), &&(name, input)) in seen.iter().zip(&nonzero) {
                prop_assert!(i < n_features);
                let (key, weight) = match input {
                    HashValue::Str(s) => (format!("{name}={s}"), 1.0),
                    HashValue::Num(x) => (name.to_string(), x),
                };
                prop_assert_eq!(v.abs(), weight.abs());
                let h = murmurhash3_32(key.as_bytes(), 0);
                prop_assert_eq!(i, h.unsigned_abs() as usize % n_features);
                let flipped = v.to_bits() != weight.to_bits();
                prop_assert_eq!(flipped, alternate_sign && h < 0, "{} -> {}", weight, v);
            }
        }
    }

    /// transform_one: sorted, one entry per column, each the record-order sum of its features.
    #[test]
    fn rows_are_sorted_and_summed(
        features in proptest::collection::vec(("[a-c]{0,2}", value()), 0..30),
        n_features in 1usize..8,
        alternate_sign in any::<bool>(),
    ) {
        let pairs = as_pairs(&features);
        let hasher = FeatureHasher::new(n_features, alternate_sign).expect("valid");
        let row = hasher.transform_one(pairs.iter().copied());
        prop_assert!(row.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", row);
        let mut sums: Vec<Option<f64>> = vec![None; n_features];
        hasher.hash_into(pairs.iter().copied(), |i, v| sums[i] = Some(sums[i].map_or(v, |s| s + v)));
        let want: Vec<(usize, f64)> = sums.iter().enumerate().filter_map(|(i, s)| s.map(|s| (i, s))).collect();
        let bits = |v: &[(usize, f64)]| v.iter().map(|&(i, x)| (i, x.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&row), bits(&want));
    }
}

/// The `hash` stage of a model gives scikit-learn's rows for records of categorical
/// values: each fixture record whose values are all strings, as one record whose
/// categorical columns are its keys, after one numeric column that passes through.
#[test]
fn the_hash_stage_gives_scikit_learns_rows() {
    use eddy::model::Model;
    use eddy::record::Categories;
    use std::sync::Arc;
    let case = fixture("hashing");
    let records = case["records"].as_array().expect("records");
    let mut checked = 0;
    for t in case["transforms"].as_array().expect("transforms") {
        let n_features = t["n_features"].as_u64().expect("n_features");
        if n_features > eddy::preprocess::MAX_HASHED as u64 {
            continue;
        }
        let sign = t["alternate_sign"].as_bool().expect("alternate_sign");
        for (rec, expected) in records.iter().zip(t["rows"].as_array().expect("rows")) {
            let pairs = rec.as_array().expect("record");
            let names: Vec<String> = pairs.iter().map(|p| p[0].as_str().expect("name").to_string()).collect();
            let all_text = pairs.iter().all(|p| p[1].is_string());
            let distinct = names.iter().enumerate().all(|(i, n)| !names[..i].contains(n));
            if pairs.is_empty() || !all_text || !distinct {
                continue;
            }
            let values = pairs.iter().map(|p| Some(Arc::from(p[1].as_str().expect("text")))).collect();
            let cats = Categories::new(Arc::from(names), values, 1).expect("shape");
            let spec = format!("hash(n_features={n_features}, alternate_sign={sign}) | gaussian-nb");
            let Model::Classifier(mut m) = Model::from_spec(&spec).expect("valid") else { panic!("a classifier") };
            let x = ndarray::array![[7.5]];
            m.learn_predict_with(x.view(), &cats, ndarray::array![0].view()).expect("learns");
            // What gaussian-nb learned is the hashed row: its single class's mean.
            let Ok(theta) = serde_json::to_value(m.head()) else { panic!("serialises") };
            let means: Vec<f64> = theta["state"]["theta"]["data"]
                .as_array()
                .expect("theta")
                .iter()
                .map(|v| v.as_f64().expect("number"))
                .collect();
            let mut want = vec![0.0; n_features as usize + 1];
            want[0] = 7.5;
            let columns = expected[0].as_array().expect("indices");
            for (i, v) in columns.iter().zip(expected[1].as_array().expect("data")) {
                want[1 + i.as_u64().expect("index") as usize] += v.as_f64().expect("value");
            }
            assert_eq!(means, want, "record {rec}, n_features={n_features}, alternate_sign={sign}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} records checked");
}
