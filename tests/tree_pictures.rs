//! Pictures and reports of tree models: a run with `hoeffding-tree` and `arf` draws the
//! tree and forest pictures (they decode, the SVG parses and names what it draws), and
//! the numbers in `run.json` and the report are the saved models'.

use eddy::model::{Model, TreesView};
use eddy::plot::{self, PlotFormat};
use eddy::report::RunRecord;
use eddy::snapshot::trees::{DrawnKind, TreeShape, TOP_FEATURES};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-tree-pictures-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// `eddy` run in `d` with `args`; panics with its stderr when it fails.
fn eddy_in(d: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy")).current_dir(d).args(args).output().expect("runs");
    assert!(out.status.success(), "eddy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Width, height and number of distinct colours of a PNG.
fn png_stats(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    (img.width(), img.height(), colours.len())
}

fn assert_picture(path: &Path) {
    let (w, h, colours) = png_stats(path);
    assert_eq!((w, h), (1200, 800), "{}", path.display());
    assert!(colours >= 8, "{}: only {colours} colours", path.display());
}

fn loaded(path: &Path) -> Model {
    eddy::model_file::load_model(path, &Default::default()).expect("the saved model loads").1
}

fn view(model: &Model) -> TreesView<'_> {
    model.as_classifier().and_then(|m| m.head().trees()).expect("a tree model")
}

fn shape_of(v: &TreesView<'_>, i: usize) -> TreeShape {
    v.trees[i].shape().into()
}

/// The texts of an SVG.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("svg");
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

#[test]
fn a_tree_and_a_forest_are_drawn_and_their_numbers_are_the_models() {
    let d = dir("run");
    eddy_in(
        &d,
        &[
            "run",
            "synth:sine?n=20000&seed=1",
            "--model",
            "hoeffding-tree",
            "--model",
            // River's rule (trees replaced when their error falls too): replacements on
            // this stream without drift, for the pictures to show.
            "arf=arf(n_models=3, rising_only=false)",
            "--model",
            "gaussian-nb",
            "--labels-out",
            "l.csv",
            "--plots",
            "plots",
            "--snapshot-every",
            "5000",
            "--report",
            "report",
            "--save-model",
            "m.eddy",
            "--quiet",
        ],
    );
    // While the stream runs: the latest tree and forest pictures beside each model's.
    for f in ["latest-hoeffding-tree-tree.png", "latest-arf-tree.png", "latest-arf-forest.png"] {
        assert_picture(&d.join("plots").join(f));
    }
    assert!(!d.join("plots/latest-hoeffding-tree-forest.png").exists(), "a tree is no forest");
    assert!(!d.join("plots/latest-gaussian-nb-tree.png").exists(), "naive Bayes has no tree");
    for f in ["hoeffding-tree-tree.png", "arf-tree.png", "arf-forest.png"] {
        assert_picture(&d.join("report").join(f));
    }
    assert!(!d.join("report/gaussian-nb-tree.png").exists());

    let record = RunRecord::load(&d.join("plots")).expect("run.json");
    assert_eq!(record, RunRecord::load(&d.join("report")).expect("run.json"), "the same record in both");
    let snap = |name: &str| record.snapshots.iter().find(|s| s.model == name).expect("a snapshot").clone();
    assert!(snap("gaussian-nb").trees.is_none() && snap("gaussian-nb").shape_timeline.is_empty());

    // The tree: its shape, history and drawn root are the saved model's.
    let tree_model = loaded(&d.join("m.hoeffding-tree.eddy"));
    let tv = view(&tree_model);
    let s = snap("hoeffding-tree");
    let t = s.trees.as_ref().expect("the tree's summary");
    let shape = shape_of(&tv, 0);
    assert!(shape.leaves > 4, "the sine concept needs several leaves: {shape:?}");
    assert_eq!(t.shape, shape, "the snapshot's shape is the saved tree's");
    assert_eq!((t.trees, t.forest.is_none()), (1, true));
    let last = s.shape_timeline.last().expect("a shape history");
    assert_eq!(
        (last.records, last.leaves, last.active_leaves, last.depth),
        (20_000, shape.leaves, shape.active_leaves, shape.depth)
    );
    assert!(s.shape_timeline.len() >= 10 && s.shape_timeline.windows(2).all(|w| w[0].records < w[1].records));
    assert!(s.shape_timeline.first().expect("points").leaves < shape.leaves, "the tree grew over the run");
    let root_feature = match tv.trees[0].nodes().first() {
        Some(eddy::model::tree::node::Node::Branch(b)) => s.features[b.test.feature() as usize].clone(),
        other => panic!("the root splits: {other:?}"),
    };
    assert!(matches!(&t.top[0].kind, DrawnKind::Split { feature, .. } if *feature == root_feature), "{:?}", t.top[0]);
    let drawn_leaves: f64 = t
        .top
        .iter()
        .map(|n| match n.kind {
            DrawnKind::Leaf { weight, .. } => weight,
            DrawnKind::Split { weight, hidden, .. } if hidden > 0 => weight,
            DrawnKind::Split { .. } => 0.0,
        })
        .sum();
    let root_weight = tv.trees[0].subtree_weight(0);
    assert!(matches!(t.top[0].kind, DrawnKind::Split { weight, .. } if weight == root_weight), "the root's weight");
    assert!(
        (drawn_leaves - root_weight).abs() < 1e-6 * root_weight,
        "the drawn frontier holds the leaves' weight: {drawn_leaves} vs {root_weight}"
    );
    assert!(t.split_features.len() <= TOP_FEATURES);
    assert_eq!(t.split_features.iter().map(|f| f.1).sum::<u64>(), shape.branches, "two features, every branch counted");

    // The forest: its trees' scores and its replacements are the saved forest's.
    let forest_model = loaded(&d.join("m.arf.eddy"));
    let fv = view(&forest_model);
    let s = snap("arf");
    let t = s.trees.as_ref().expect("the forest's summary");
    let f = t.forest.as_ref().expect("a forest");
    let members = &fv.forest.as_ref().expect("a forest").members;
    assert_eq!(f.members.len(), 3);
    for (i, (row, m)) in f.members.iter().zip(members).enumerate() {
        assert_eq!(row.accuracy, m.accuracy, "tree {i}");
        assert_eq!(row.drifts, m.drifts, "tree {i}");
        assert_eq!(row.shape, shape_of(&fv, i), "tree {i}");
    }
    let replacements = fv.forest.as_ref().expect("a forest").replacements;
    assert!(!replacements.is_empty(), "the sine stream's forest replaces trees");
    assert_eq!(f.replacements, replacements, "the replacements are the forest's");
    assert_eq!(f.replacements_total(), members.iter().map(|m| m.drifts).sum::<u64>());
    assert_eq!(f.replacements_total(), replacements.len() as u64, "fewer than the forest remembers");
    let branches: u64 = (0..3).map(|i| shape_of(&fv, i).branches).sum();
    assert_eq!(t.shape.branches, branches);
    assert_eq!(t.split_features.iter().map(|f| f.1).sum::<u64>(), branches, "counted over all trees' branches");

    // The report: the shapes, the trees and replacements, the pictures, and the text of
    // `eddy model show --tree`.
    let md = std::fs::read_to_string(d.join("report/report.md")).expect("report");
    let tree_section = md.split("### Tree").nth(1).expect("a tree section");
    let row = format!(
        "| {} | {} | {} | {} | {} | {} |",
        shape.nodes, shape.branches, shape.leaves, shape.active_leaves, shape.inactive_leaves, shape.depth
    );
    assert!(tree_section.contains(&row), "{row} in\n{tree_section}");
    let shown = eddy_in(&d, &["model", "show", "m.hoeffding-tree.eddy", "--tree", "--depth", "4"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    let text = shown.split_once('\n').expect("the spec, then the tree").1.trim_end();
    assert!(tree_section.contains(&format!("```text\n{text}\n```")), "the report's text is model show's:\n{text}");
    assert!(
        tree_section.contains("![hoeffding-tree: the top levels") && tree_section.contains("hoeffding-tree-tree.png")
    );
    let forest_section = md.split("### Forest").nth(1).expect("a forest section");
    let total = f.replacements_total();
    assert!(forest_section.contains(&format!("{total} trees were replaced on drift")), "{forest_section}");
    for (i, m) in members.iter().enumerate() {
        assert!(
            forest_section.contains(&format!("| {i} | {:.4} |", m.accuracy)),
            "tree {i}'s accuracy:\n{forest_section}"
        );
    }
    let table = forest_section.split("| record | tree |").nth(1).expect("a replacements table");
    let listed: Vec<&str> = table.lines().skip(2).take_while(|l| l.starts_with("| ")).collect();
    assert_eq!(listed.len(), replacements.len().min(50));
    assert_eq!(listed[0], format!("| {} | {} |", replacements[0].0, replacements[0].1));
    assert!(forest_section.contains("arf-tree.png") && forest_section.contains("arf-forest.png"));
    let html = std::fs::read_to_string(d.join("report/report.html")).expect("html");
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        3 * 2 + 1 + 2,
        "state and timeline of each, tree and forest pictures"
    );
    assert!(html.contains("<pre>") && html.contains("tree 0: accuracy"), "the forest's text, preformatted");

    // The same pictures in SVG name what they draw.
    let s = snap("hoeffding-tree");
    plot::render_tree(&s, &d.join("tree.svg"), PlotFormat::Svg).expect("draws");
    let texts = svg_texts(&d.join("tree.svg"));
    assert!(texts.iter().any(|t| t.contains("hoeffding-tree: tree after 20000 records")), "{texts:?}");
    assert!(texts.iter().any(|t| t == &root_feature), "the root's feature: {texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("<= ")) && texts.iter().any(|t| t.starts_with("> ")),
        "thresholds on the edges"
    );
    assert!(texts.iter().any(|t| t.contains(&format!("{} leaves, {} active", shape.leaves, shape.active_leaves))));
    let s = snap("arf");
    plot::render_forest(&s, &d.join("forest.svg"), PlotFormat::Svg).expect("draws");
    let texts = svg_texts(&d.join("forest.svg"));
    assert!(texts.iter().any(|t| t.contains(&format!("{total} trees replaced on drift"))), "{texts:?}");
    assert!(texts.iter().any(|t| t == &format!("{:.3}", members[0].accuracy)), "tree 0's accuracy on its bar");
    assert!(
        plot::render_forest(&snap("hoeffding-tree"), &d.join("no.svg"), PlotFormat::Svg).is_err(),
        "a tree is no forest"
    );
    assert!(plot::render_tree(&snap("gaussian-nb"), &d.join("no.svg"), PlotFormat::Svg).is_err());

    // A report of the model file: its tree and forest, no history.
    eddy_in(&d, &["report", "m.arf.eddy", "--out", "file-report"]);
    let md = std::fs::read_to_string(d.join("file-report/report.md")).expect("report");
    assert!(md.contains(&format!("{total} trees were replaced on drift")), "{md}");
    assert_picture(&d.join("file-report/m.arf-forest.png"));
    assert_picture(&d.join("file-report/m.arf-tree.png"));
}

#[test]
fn a_damaged_tree_in_run_json_is_refused() {
    let d = dir("damaged");
    eddy_in(
        &d,
        &[
            "run",
            "synth:sine?n=3000&seed=2",
            "--model",
            "hoeffding-tree",
            "--labels-out",
            "l.csv",
            "--report",
            "r",
            "--quiet",
        ],
    );
    let path = d.join("r/run.json");
    let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("json")).expect("json");
    assert!(good["snapshots"][0]["trees"]["top"].as_array().is_some_and(|t| t.len() > 1), "a tree with a branch");
    // A node whose parent comes after it, and a history too long to draw.
    let mut bad = good.clone();
    bad["snapshots"][0]["trees"]["top"][1]["parent"] = serde_json::json!(99);
    std::fs::write(&path, bad.to_string()).expect("write");
    let err = RunRecord::load(&d.join("r")).expect_err("a parent after its child");
    assert!(err.to_string().contains("does not fit together"), "{err}");
    let mut bad = good.clone();
    let point = bad["snapshots"][0]["shape_timeline"][0].clone();
    bad["snapshots"][0]["shape_timeline"] = serde_json::Value::Array(vec![point; 5000]);
    std::fs::write(&path, bad.to_string()).expect("write");
    assert!(RunRecord::load(&d.join("r")).is_err(), "5000 points");
    std::fs::write(&path, good.to_string()).expect("write");
    RunRecord::load(&d.join("r")).expect("the run's own record loads");
}
