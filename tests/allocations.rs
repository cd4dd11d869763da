//! Predicting allocates per batch, never per record: a count of the allocations the
//! calling thread makes, for a batch of 100 records and one of 4,000.

use eddy::model::Model;
use eddy::record::Categories;
use ndarray::{Array1, Array2};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the allocations of a thread while it asks.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; counting touches
// only const-initialised thread-locals, which do not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    // `try_with`: a thread being torn down has no thread-locals left.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (COUNT.with(Cell::get), out)
}

/// Four classes of non-negative rows, 6 features.
fn rows(n: usize) -> (Array2<f64>, Array1<i64>) {
    let x = Array2::from_shape_fn((n, 6), |(i, j)| ((i * 31 + j * 17) % 23) as f64 * 0.5 + (i % 4) as f64 * 3.0);
    (x, Array1::from_shape_fn(n, |i| (i % 4) as i64))
}

#[test]
fn predicting_allocates_per_batch_not_per_record() {
    let specs = [
        "sgd(loss=log_loss)",
        "perceptron",
        "passive-aggressive",
        "gaussian-nb",
        "multinomial-nb",
        "hoeffding-tree",
        "hoeffding-adaptive-tree",
        "scale | sgd(loss=log_loss)",
        "minibatch-kmeans(n_clusters=4)",
        "scale | minibatch-kmeans(n_clusters=4)",
    ];
    let (train_x, train_y) = rows(3000);
    let none = Categories::default();
    for spec in specs {
        let mut model = Model::from_spec(spec).expect("valid");
        match &mut model {
            Model::Classifier(m) => {
                m.learn_predict_with(train_x.view(), &none, train_y.view()).expect("learns");
            }
            Model::Clusterer(m) => {
                m.learn_predict_with(train_x.view(), &none).expect("learns");
            }
        }
        let counts: Vec<u64> = [100, 4000]
            .into_iter()
            .map(|n| {
                let (x, _) = rows(n);
                let (count, labels) = allocations(|| match &model {
                    Model::Classifier(m) => m.predict_with(x.view(), &none),
                    Model::Clusterer(m) => m.predict_with(x.view(), &none),
                });
                assert_eq!(labels.expect("predicts").len(), n, "{spec}");
                count
            })
            .collect();
        assert_eq!(counts[0], counts[1], "{spec}: allocations for 100 records and for 4000");
    }
}

/// The service's request bodies: decoding a record allocates nothing of its own (the
/// batch's arrays grow by doubling, a few times per body whatever its size).
#[cfg(feature = "server")]
#[test]
fn request_bodies_decode_without_an_allocation_per_record() {
    use eddy::server::body::{decode, Format, Shape};
    let features: Vec<String> = (0..6).map(|j| format!("f{j}")).collect();
    let shape = Shape::new(&features, 100_000);
    let body = |format: Format, n: usize| -> String {
        let mut text = String::new();
        match format {
            Format::Csv => {
                text += &features.join(",");
                text += "\n";
                for i in 0..n {
                    text += &format!("{i}.5,1,2,3,4,5\n");
                }
            }
            Format::Ndjson => {
                for i in 0..n {
                    text += &format!("{{\"f0\":{i}.5,\"f1\":1,\"f2\":2,\"f3\":3,\"f4\":4,\"f5\":5}}\n");
                }
            }
            Format::Json => {
                let records: Vec<String> =
                    (0..n).map(|i| format!("{{\"f0\":{i}.5,\"f1\":1,\"f2\":2,\"f3\":3,\"f4\":4,\"f5\":5}}")).collect();
                text = format!("[{}]", records.join(","));
            }
        }
        text
    };
    for format in [Format::Csv, Format::Ndjson, Format::Json] {
        let counts: Vec<u64> = [100, 4000]
            .into_iter()
            .map(|n| {
                let text = body(format, n);
                let (count, records) = allocations(|| decode(format, text.as_bytes(), &shape));
                assert_eq!(records.expect("decodes").x.nrows(), n, "{format:?}");
                count
            })
            .collect();
        assert!(counts[1] < counts[0] + 40, "{format:?}: {counts:?} allocations for 100 and 4000 records");
    }
}
