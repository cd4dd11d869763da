//! Helpers for unit tests that spoil saved states one JSON leaf at a time.

use serde_json::Value;

/// Paths to every leaf and every array of `v` (the first three items of an array are
/// followed into).
pub(crate) fn json_paths(v: &Value) -> Vec<Vec<String>> {
    fn walk(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    at.push(k.clone());
                    walk(child, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                out.push(at.clone());
                for (i, child) in items.iter().enumerate().take(3) {
                    at.push(i.to_string());
                    walk(child, at, out);
                    at.pop();
                }
            }
            _ => out.push(at.clone()),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// The value at `path` in `v` (a path [`json_paths`] gave).
pub(crate) fn json_at_mut<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, key| match v {
        Value::Array(items) => &mut items[key.parse::<usize>().expect("json_paths gives array indices")],
        other => &mut other[key.as_str()],
    })
}
