//! The model language: one text form for a model, the same in `eddy run --model`,
//! `eddy model new`, model files, the service and reports.
//!
//! ```text
//! spec     := [label "="] stage ("|" stage)*
//! stage    := name ["(" [arg ("," arg)*] ")"]
//! arg      := name "=" value
//! value    := number | name | "string" | "[" [value ("," value)*] "]" | stage ("|" stage)*
//! ```
//!
//! Names are scikit-learn's (`alpha`, `learning_rate`, `n_clusters`, ...); a name
//! may hold `-` and `+` after its first letter (`minibatch-kmeans`, `k-means++`).
//! Numbers are decimal, with an exponent (`1e-4`) or an integer power (`2**18`).
//! This module only reads and prints the text; [`crate::model::registry`] gives it
//! meaning (which stages exist, their parameters and defaults).

use std::fmt;

/// The deepest a value may nest (lists in lists, stages in stages): deeper specs
/// are refused rather than risking the stack on hostile input.
pub const MAX_DEPTH: usize = 16;

/// The longest spec accepted, in bytes.
pub const MAX_LEN: usize = 64 * 1024;

/// A parsed model: an optional label and its stages, joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The name given with `label=` (used for label files and summaries).
    pub label: Option<String>,
    /// The stages, first to last; the last is the estimator.
    pub stages: Vec<StageSpec>,
}

/// One stage: `name(arg=value, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    /// The stage's registry name.
    pub name: String,
    /// Its arguments, in the order given.
    pub args: Vec<Arg>,
    /// Where the stage's name starts in the text (byte offset), for errors.
    pub at: usize,
}

/// One `name=value` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The parameter's name.
    pub name: String,
    /// Its value.
    pub value: Value,
    /// Where the argument starts in the text (byte offset), for errors.
    pub at: usize,
}

/// A parameter's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number (`3`, `-1`, `2**18`).
    Int(i64),
    /// A number with a fraction or an exponent (`0.01`, `1e-4`).
    Float(f64),
    /// A quoted string.
    Str(String),
    /// A bare name: a choice (`log`, `constant`, `true`) or a stage without arguments.
    Name(String),
    /// `[a, b, c]`.
    List(Vec<Value>),
    /// A stage with arguments, or several joined by `|`: a model inside a model.
    Stages(Vec<StageSpec>),
}

/// A spec that could not be read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.spec, *.at, .message))]
pub struct SpecError {
    /// The spec's text.
    pub spec: String,
    /// Byte offset the error points at.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error at `at` in `spec`.
    pub fn new(spec: &str, at: usize, message: impl Into<String>) -> Self {
        Self { spec: spec.into(), at: at.min(spec.len()), message: message.into() }
    }
}

/// `message`, then the spec on its own line with a caret under `at`.
fn render(spec: &str, at: usize, message: &str) -> String {
    if spec.len() > 200 || spec.contains('\n') {
        return format!("{message} (at byte {at} of the model spec)");
    }
    let column = spec[..at.min(spec.len())].chars().count();
    format!("{message}\n  {spec}\n  {}^", " ".repeat(column))
}

impl std::str::FromStr for Spec {
    type Err = SpecError;
    fn from_str(text: &str) -> Result<Self, SpecError> {
        parse(text)
    }
}

/// Read a spec.
pub fn parse(text: &str) -> Result<Spec, SpecError> {
    if text.len() > MAX_LEN {
        return Err(SpecError::new(&text[..0], 0, format!("a model spec is at most {MAX_LEN} bytes")));
    }
    let mut p = Parser { text, pos: 0 };
    p.skip_space();
    let label = {
        let save = p.pos;
        match p.name() {
            Some(name) => {
                p.skip_space();
                if p.eat('=') {
                    Some(name.to_string())
                } else {
                    p.pos = save;
                    None
                }
            }
            None => None,
        }
    };
    let stages = p.stages(0)?;
    p.skip_space();
    if p.pos < text.len() {
        return Err(p.error(format!("unexpected {:?}", p.rest_char())));
    }
    Ok(Spec { label, stages })
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> SpecError {
        SpecError::new(self.text, self.pos, message)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn rest_char(&self) -> String {
        self.peek().map_or_else(|| "end".into(), String::from)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += self.peek().map_or(0, char::len_utf8);
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), SpecError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", quote_found(&self.rest_char()))))
        }
    }

    /// A name: a letter or `_`, then letters, digits, `_`, `-`, `+`, `.`.
    fn name(&mut self) -> Option<&'a str> {
        self.skip_space();
        let start = self.pos;
        let mut chars = self.text[start..].char_indices();
        match chars.next() {
            Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
            _ => return None,
        }
        let end = chars
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.')))
            .map_or(self.text.len(), |(i, _)| start + i);
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// `stage ("|" stage)*`.
    fn stages(&mut self, depth: usize) -> Result<Vec<StageSpec>, SpecError> {
        let mut stages = vec![self.stage(depth)?];
        while self.eat('|') {
            stages.push(self.stage(depth)?);
        }
        Ok(stages)
    }

    fn stage(&mut self, depth: usize) -> Result<StageSpec, SpecError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("the spec nests deeper than {MAX_DEPTH} levels")));
        }
        self.skip_space();
        let at = self.pos;
        let Some(name) = self.name() else {
            return Err(self.error(format!("expected a model or stage name, found {}", quote_found(&self.rest_char()))));
        };
        let mut args = Vec::new();
        if self.eat('(') && !self.eat(')') {
            loop {
                args.push(self.arg(depth)?);
                if self.eat(')') {
                    break;
                }
                self.expect(',', "',' or ')'")?;
            }
        }
        Ok(StageSpec { name: name.into(), args, at })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, SpecError> {
        self.skip_space();
        let at = self.pos;
        let Some(name) = self.name() else {
            return Err(self.error(format!("expected a parameter name, found {}", quote_found(&self.rest_char()))));
        };
        if !self.eat('=') {
            return Err(self.error(format!("expected '=' after parameter {name}")));
        }
        let value = self.value(depth + 1)?;
        Ok(Arg { name: name.into(), value, at })
    }

    fn value(&mut self, depth: usize) -> Result<Value, SpecError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("the spec nests deeper than {MAX_DEPTH} levels")));
        }
        self.skip_space();
        match self.peek() {
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(']') {
                            break;
                        }
                        self.expect(',', "',' or ']'")?;
                    }
                }
                Ok(Value::List(items))
            }
            Some('"') | Some('\'') => self.string().map(Value::Str),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let save = self.pos;
                let name = self.name().unwrap_or_default();
                self.skip_space();
                let nested = matches!(self.peek(), Some('(') | Some('|'));
                if nested {
                    self.pos = save;
                    Ok(Value::Stages(self.stages(depth + 1)?))
                } else {
                    Ok(Value::Name(name.into()))
                }
            }
            _ => Err(self.error(format!("expected a value, found {}", quote_found(&self.rest_char())))),
        }
    }

    fn string(&mut self) -> Result<String, SpecError> {
        let quote = self.peek().unwrap_or('"');
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(SpecError::new(self.text, start, "this string is not closed")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('\\' | '"' | '\'')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.error("only \\\\, \\\" and \\' escapes are known")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, SpecError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if matches!(bytes.get(end), Some(b'-' | b'+')) {
            end += 1;
        }
        while end < bytes.len() {
            let b = bytes[end];
            let exponent_sign = matches!(b, b'-' | b'+') && matches!(bytes[end - 1], b'e' | b'E');
            if b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || exponent_sign {
                end += 1;
            } else {
                break;
            }
        }
        let text = &self.text[start..end];
        self.pos = end;
        let base = if let Ok(i) = text.parse::<i64>() {
            Value::Int(i)
        } else {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => return Err(SpecError::new(self.text, start, format!("{text:?} is not a number"))),
            }
        };
        // `2**18`: integer powers, as Python writes them.
        if self.text[self.pos..].starts_with("**") {
            self.pos += 2;
            let exp_at = self.pos;
            let exponent = match self.number()? {
                Value::Int(e) if (0..=62).contains(&e) => e as u32,
                _ => return Err(SpecError::new(self.text, exp_at, "an exponent after ** is a whole number in 0..=62")),
            };
            return match base {
                Value::Int(b) => b
                    .checked_pow(exponent)
                    .map(Value::Int)
                    .ok_or_else(|| SpecError::new(self.text, start, format!("{text}**{exponent} is too large"))),
                _ => Ok(Value::Float(match base {
                    Value::Float(f) => f.powi(exponent as i32),
                    _ => unreachable!("numbers are Int or Float"),
                })),
            };
        }
        Ok(base)
    }
}

fn quote_found(s: &str) -> String {
    if s == "end" {
        "the end".into()
    } else {
        format!("{s:?}")
    }
}

/// True when `s` can be written as a bare name.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(label) = &self.label {
            write!(f, "{label}=")?;
        }
        write_stages(f, &self.stages)
    }
}

fn write_stages(f: &mut fmt::Formatter<'_>, stages: &[StageSpec]) -> fmt::Result {
    for (i, s) in stages.iter().enumerate() {
        if i > 0 {
            f.write_str(" | ")?;
        }
        write!(f, "{s}")?;
    }
    Ok(())
}

impl fmt::Display for StageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.args.is_empty() {
            f.write_str("(")?;
            for (i, a) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}={}", a.name, a.value)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            // `{:?}` is the shortest text that reads back as the same f64, and keeps a `.0`.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) if is_name(s) => f.write_str(s),
            Value::Str(s) => write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            Value::Name(n) => f.write_str(n),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Stages(stages) => write_stages(f, stages),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &Spec) -> Vec<&str> {
        spec.stages.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn reads_a_pipeline_with_arguments() {
        let s = parse("scale | sgd(loss=log, alpha=0, learning_rate=constant, eta0=0.01)").expect("valid");
        assert_eq!(s.label, None);
        assert_eq!(names(&s), ["scale", "sgd"]);
        let args = &s.stages[1].args;
        assert_eq!(args[0].name, "loss");
        assert_eq!(args[0].value, Value::Name("log".into()));
        assert_eq!(args[1].value, Value::Int(0));
        assert_eq!(args[3].value, Value::Float(0.01));
        assert_eq!(s.stages[1].at, 8);
    }

    #[test]
    fn reads_a_label_and_nested_models() {
        let s = parse("fast=drift-retrain(model=scale | sgd(eta0=0.1), detector=adwin, n=2**18, l=[a, 'b c'])")
            .expect("valid");
        assert_eq!(s.label.as_deref(), Some("fast"));
        let args = &s.stages[0].args;
        let Value::Stages(inner) = &args[0].value else { panic!("a nested model") };
        assert_eq!(inner.len(), 2);
        assert_eq!(args[1].value, Value::Name("adwin".into()));
        assert_eq!(args[2].value, Value::Int(1 << 18));
        assert_eq!(args[3].value, Value::List(vec![Value::Name("a".into()), Value::Str("b c".into())]));
    }

    #[test]
    fn prints_what_it_reads() {
        for text in [
            "sgd",
            "scale | sgd(loss=log, alpha=0, eta0=0.01)",
            "fast=sgd(eta0=-1.5e-7)",
            "w(model=scale | sgd(a=1), b=[1, 2.0, \"x y\"], c=k-means++)",
        ] {
            let printed = parse(text).expect("valid").to_string();
            assert_eq!(printed, text);
            assert_eq!(parse(&printed).expect("reads back").to_string(), printed);
        }
    }

    #[test]
    fn errors_point_into_the_spec() {
        let e = parse("sgd(alpha=)").expect_err("no value");
        assert_eq!(e.at, 10);
        assert!(e.to_string().contains("expected a value"), "{e}");
        assert!(e.to_string().ends_with("\n  sgd(alpha=)\n            ^"), "{e}");
        let e = parse("sgd(alpha 1)").expect_err("no =");
        assert!(e.message.contains("expected '='"), "{e}");
        let e = parse("scale |").expect_err("no stage");
        assert!(e.message.contains("expected a model or stage name"), "{e}");
        let e = parse("sgd(x=\"open").expect_err("open string");
        assert_eq!(e.at, 6);
        assert!(parse("sgd) extra").is_err());
        assert!(parse("sgd(a=1e999)").is_err());
        assert!(parse("sgd(a=2**63)").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}1{}", "a(b=[".repeat(2_000), "])".repeat(2_000));
        let e = parse(&deep).expect_err("too deep");
        assert!(e.message.contains("nests deeper"), "{e}");
        let long = "a".repeat(MAX_LEN + 1);
        assert!(parse(&long).is_err());
    }
}
