//! eddy's integration tests, one binary (fewer link steps on a 2-core machine).

mod allocations; // predicting allocates per batch, never per record (a counting allocator)
mod bad_input; // every kind of bad batch is refused with a typed error, model unchanged
mod categorical; // encoders grow the models behind them as if every category had been known; imputed counts; mixed records from the CLI
mod checkpoints; // written where labels are durable; the models of their prefix
mod cli; // the binary and the examples, run as a user would
mod cluster_events; // cluster-level drift: moved, vanished and appeared on real k-means runs, none when stationary
mod contracts; // Send, serde round trips, seeded determinism, reassignment
mod delayed; // eddy run --delayed-labels: the in-order model, exact counts, positioned errors, the example
mod drift_cli; // eddy drift on a column: events, errors, formats
mod drift_parity; // every detector against River 0.26.1's indices, from committed fixtures
mod drift_runs; // eddy run --drift: events file, summary, terminal, threads = inline
mod drift_wrappers; // drift-retrain swaps at the signalled record, recovers after a change, round-trips
mod forest; // arf: thread-count invariance, XOR and a change, max_features per leaf, refusals, specs
mod forgetting; // decay and halflife (k-means, scaler, Gaussian NB), adaptive step sizes; River parity
mod hashing; // MurmurHash3 and FeatureHasher rows equal scikit-learn's exactly, from committed fixtures
mod hedge; // hedge: the weighted-majority vote by hand and against its members alone, the weight after a change, files, hostile states
mod hostile_input; // hostile files and requests: refused quickly, no panic, no allocation they ask for
#[cfg(feature = "kafka")]
mod kafka_streams; // eddy run kafka://: a real tansu broker: reading, rejects, resume over partitions, labels to a topic, a group sharing one model
mod kmeans_seeding; // n_init: the best of several k-means++ seedings finds well-separated blobs for every seed
mod linfa_interop; // linfa Datasets and traits; linfa's KMeans as a cross-check
mod model_files; // save/load, and every refused file: truncated, corrupt, tampered, unsigned, wrong key
mod model_runs; // --model-file, --no-learn, named models, the model language on the command line
mod parallel_parse; // files parsed on several threads: the same batches, errors, rejects and positions as one thread, at any chunk edges
mod parity; // scikit-learn partial_fit parity, from committed fixtures
mod pipeline; // threads vs the inline oracle; sources and their errors
mod plots; // snapshots and reports: pictures decode, numbers are the model's
mod properties; // proptest invariants
mod redis_streams; // eddy run redis://: a real redis-server; the same labels as the file, rejects by entry id, following, errors, groups through kills
mod sequential; // batch learn_predict == one-row steps, for every sequential learner
#[cfg(feature = "server")]
mod server; // `eddy serve` on a loopback port: endpoints, errors, roles, TLS, restart, fuzzing
#[cfg(feature = "server")]
mod server_categorical; // `eddy serve` with categorical and missing values: formats, growth, imputing, restarts
#[cfg(feature = "server")]
mod server_feedback; // `eddy serve` with delayed labels: predict with ids, POST /v1/feedback, restarts
mod shared_models; // what the Redis and Kafka group tests check alike of a shared model
mod tree_parity; // hoeffding-tree against River 0.26.1: every prediction, every split's record, the final tree, from committed fixtures
mod tree_pictures; // tree and forest pictures, and the report's tree section: they decode, and the numbers are the saved models'
mod trees; // Hoeffding trees: known concepts, splits where the bound allows, limits, missing values, categories
mod util;
