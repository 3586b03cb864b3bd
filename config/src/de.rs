//! TOML → model the way Traefik 1.x (Go's BurntSushi/toml) reads its files: a key matches a
//! struct field whatever its case (`LoadBalancer`, `loadbalancer`), map keys — names the user
//! chose, such as backend or header names — keep their case, and keys that match no field are
//! warnings rather than errors, so a v1 file with options we do not know yet still loads.
//!
//! A serde `Deserializer` over toml's spanned parse tree, so every error and warning carries the
//! byte span of the key or value it is about.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

/// A message about a byte range of the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub span: Range<usize>,
    pub message: String,
}

/// A deserialized value and the warnings (unknown or repeated keys) met on the way.
#[derive(Debug)]
pub struct Parsed<T> {
    pub value: T,
    pub warnings: Vec<Located>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Warn about top-level keys that match no field. Off when a caller reads only part of a
    /// file on purpose, e.g. the dynamic tables of a full `trafik.toml`.
    pub warn_unknown_top_level: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            warn_unknown_top_level: true,
        }
    }
}

/// A parsed TOML document, ready to be deserialized (possibly several times, into different
/// types) and walked for key positions.
#[derive(Debug)]
pub struct Document<'i> {
    root: Spanned<DeTable<'i>>,
}

impl<'i> Document<'i> {
    /// Parses TOML syntax only; the error is the first one toml reports, with its span.
    pub fn parse(text: &'i str) -> Result<Self, Located> {
        DeTable::parse(text)
            .map(|root| Document { root })
            .map_err(|e| Located {
                span: e.span().unwrap_or(0..0),
                message: e.message().trim_end().to_string(),
            })
    }

    pub fn table(&self) -> &DeTable<'i> {
        self.root.get_ref()
    }

    pub fn deserialize<T: DeserializeOwned>(&self, opts: Options) -> Result<Parsed<T>, Located> {
        let ctx = Ctx {
            warnings: RefCell::new(Vec::new()),
            opts,
        };
        let de = ValueDe {
            node: Node::Tables(vec![self.root.get_ref()]),
            span: self.root.span(),
            path: String::new(),
            ctx: &ctx,
        };
        let value = T::deserialize(de).map_err(Error::into_located)?;
        let mut warnings = ctx.warnings.into_inner();
        warnings.sort_by_key(|w| w.span.start);
        Ok(Parsed { value, warnings })
    }
}

/// The serde error: a message, and once known, where it happened.
#[derive(Debug)]
struct Error {
    message: String,
    /// Set by the innermost deserializer the error passes through, i.e. the offending value.
    location: Option<(Range<usize>, String)>,
}

impl Error {
    fn locate(mut self, span: &Range<usize>, path: &str) -> Self {
        if self.location.is_none() {
            self.location = Some((span.clone(), path.to_string()));
        }
        self
    }

    fn into_located(self) -> Located {
        let span = self.location.as_ref().map_or(0..0, |(s, _)| s.clone());
        Located {
            span,
            message: self.to_string(),
        }
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            location: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((_, path)) if !path.is_empty() => write!(f, "{path}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

struct Ctx {
    warnings: RefCell<Vec<Located>>,
    opts: Options,
}

impl Ctx {
    fn warn(&self, span: Range<usize>, message: String) {
        self.warnings.borrow_mut().push(Located { span, message });
    }
}

/// A value, or a table made of one or more TOML tables: v1 merges tables whose keys differ only
/// in case (`[backends.b.LoadBalancer]` plus `[backends.b.loadBalancer.stickiness]`).
#[derive(Clone)]
enum Node<'a, 'i> {
    Tables(Vec<&'a DeTable<'i>>),
    Value(&'a DeValue<'i>),
}

struct ValueDe<'a, 'i> {
    node: Node<'a, 'i>,
    span: Range<usize>,
    /// Dotted key path as written in the file, for messages.
    path: String,
    ctx: &'a Ctx,
}

/// The values one field (or map key) receives: one, or several tables to merge.
struct Group<'a, 'i> {
    /// What the visitor sees: the canonical field name, or the map key unchanged.
    name: &'a str,
    key: &'a Spanned<DeString<'i>>,
    values: Vec<&'a Spanned<DeValue<'i>>>,
}

impl<'a, 'i> ValueDe<'a, 'i> {
    fn child(&self, group: &Group<'a, 'i>, path: String) -> Self {
        let first = group.values[0];
        let node = match group.values.as_slice() {
            [single] => Node::Value(single.get_ref()),
            many => Node::Tables(many.iter().filter_map(|v| v.get_ref().as_table()).collect()),
        };
        ValueDe {
            node,
            span: first.span(),
            path,
            ctx: self.ctx,
        }
    }

    fn element(&self, value: &'a Spanned<DeValue<'i>>, path: String) -> Self {
        ValueDe {
            node: Node::Value(value.get_ref()),
            span: value.span(),
            path,
            ctx: self.ctx,
        }
    }

    fn tables(&self) -> Option<Vec<&'a DeTable<'i>>> {
        match &self.node {
            Node::Tables(ts) => Some(ts.clone()),
            Node::Value(DeValue::Table(t)) => Some(vec![t]),
            Node::Value(_) => None,
        }
    }

    /// Feeds tables to a visitor; `fields` given ⇒ keys are matched to them case-insensitively.
    fn visit_tables<'de, V: Visitor<'de>>(
        &self,
        tables: &[&'a DeTable<'i>],
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut access = Entries {
            items: self.group(tables, fields).into_iter(),
            parent: self,
            pending: None,
            current: None,
        };
        let result = visitor.visit_map(&mut access);
        // An error raised by the visitor itself (not by a value) is about the key it was
        // looking at, or about the whole table once all keys were consumed.
        result.map_err(|e| match access.current.take() {
            Some((span, path)) => e.locate(&span, &path),
            None => e.locate(&self.span, &self.path),
        })
    }

    /// Pairs each key with what the visitor should see: with `fields`, the struct field it names
    /// ignoring case as v1 does (keys naming no field are dropped with a warning); without, the
    /// key itself. Tables under the same name merge; any other repeat keeps the later value.
    fn group(
        &self,
        tables: &[&'a DeTable<'i>],
        fields: Option<&'static [&'static str]>,
    ) -> Vec<Group<'a, 'i>> {
        let warn_unknown = !self.path.is_empty() || self.ctx.opts.warn_unknown_top_level;
        let mut entries: Vec<_> = tables.iter().flat_map(|t| t.iter()).collect();
        entries.sort_by_key(|(k, _)| k.span().start);

        let mut groups: Vec<Group<'a, 'i>> = Vec::new();
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        for (key, value) in entries {
            let written: &'a str = key.get_ref();
            let name = match fields {
                None => written,
                Some(fields) => match find_field(written, fields) {
                    Some(field) => field,
                    None => {
                        if warn_unknown {
                            let path = child_path(&self.path, written);
                            let segments: Vec<&str> = path.split('.').collect();
                            let message = match crate::v1_keys::not_implemented(&segments) {
                                Some(why) => format!("{path}: {why}; ignored"),
                                None => {
                                    let hint = suggestion(written, fields)
                                        .map(|s| format!(" (did you mean \"{s}\"?)"));
                                    format!(
                                        "{path}: unknown key, ignored{}",
                                        hint.unwrap_or_default()
                                    )
                                }
                            };
                            self.ctx.warn(key.span(), message);
                        }
                        continue;
                    }
                },
            };
            let Some(&i) = index.get(name) else {
                index.insert(name, groups.len());
                groups.push(Group {
                    name,
                    key,
                    values: vec![value],
                });
                continue;
            };
            let group = &mut groups[i];
            if value.get_ref().is_table() && group.values.iter().all(|v| v.get_ref().is_table()) {
                group.values.push(value);
            } else {
                self.ctx.warn(
                    key.span(),
                    format!(
                        "{}: same key as \"{}\" (keys are case-insensitive); this later one wins",
                        child_path(&self.path, written),
                        group.key.get_ref()
                    ),
                );
                *group = Group {
                    name,
                    key,
                    values: vec![value],
                };
            }
        }
        groups
    }
}

/// The field a key names: spelled exactly, else ignoring ASCII case (BurntSushi's rule).
/// Shared with the flags' deserializer (`flags/de.rs`).
pub(crate) fn find_field(key: &str, fields: &'static [&'static str]) -> Option<&'static str> {
    let exact = fields.iter().find(|f| **f == key);
    exact
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

fn child_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let segment = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        segment
    } else {
        format!("{parent}.{segment}")
    }
}

/// The closest field name, when a typo is the likely cause of an unknown key.
pub(crate) fn suggestion(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    fields
        .iter()
        .map(|f| (edit_distance(&key, &f.to_ascii_lowercase()), *f))
        .filter(|(d, f)| *d <= 2 && *d < f.len().min(key.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

struct Entries<'p, 'a, 'i> {
    items: std::vec::IntoIter<Group<'a, 'i>>,
    parent: &'p ValueDe<'a, 'i>,
    pending: Option<(Group<'a, 'i>, String)>,
    /// Span and path of the key last handed out, for errors the visitor raises about it.
    current: Option<(Range<usize>, String)>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(group) = self.items.next() else {
            self.current = None;
            return Ok(None);
        };
        let path = child_path(&self.parent.path, group.key.get_ref());
        let key_de: StrDeserializer<'_, Error> = group.name.into_deserializer();
        let result = seed
            .deserialize(key_de)
            .map_err(|e| e.locate(&group.key.span(), &path));
        self.current = Some((group.key.span(), path.clone()));
        self.pending = Some((group, path));
        result.map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (group, path) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("value asked for before its key"))?;
        seed.deserialize(self.parent.child(&group, path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Items<'p, 'a, 'i> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Spanned<DeValue<'i>>>>,
    parent: &'p ValueDe<'a, 'i>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_, '_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.parent.path);
        seed.deserialize(self.parent.element(value, path)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = match &self.node {
            Node::Tables(ts) => return self.visit_tables(ts, None, visitor),
            Node::Value(v) => *v,
        };
        let result = match value {
            DeValue::String(s) => visitor.visit_str(s),
            DeValue::Integer(n) => match i64::from_str_radix(n.as_str(), n.radix()) {
                Ok(v) => visitor.visit_i64(v),
                Err(_) => match u64::from_str_radix(n.as_str(), n.radix()) {
                    Ok(v) => visitor.visit_u64(v),
                    Err(_) => Err(de::Error::custom(format!("integer {n} is out of range"))),
                },
            },
            DeValue::Float(x) => match x.as_str().parse::<f64>() {
                Ok(v) => visitor.visit_f64(v),
                Err(_) => Err(de::Error::custom(format!("invalid float {x}"))),
            },
            DeValue::Boolean(b) => visitor.visit_bool(*b),
            // Nothing in the model is a date; a string keeps the value readable if one appears.
            DeValue::Datetime(d) => visitor.visit_string(d.to_string()),
            DeValue::Array(items) => {
                let mut access = Items {
                    items: items.iter().enumerate(),
                    parent: &self,
                };
                visitor.visit_seq(&mut access)
            }
            DeValue::Table(t) => return self.visit_tables(&[t], None, visitor),
        };
        result.map_err(|e| e.locate(&self.span, &self.path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.tables() {
            Some(ts) => self.visit_tables(&ts, Some(fields), visitor),
            None => self.deserialize_any(visitor),
        }
    }

    /// TOML has no null: a key that is present is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (span, path) = (self.span.clone(), self.path.clone());
        visitor.visit_some(self).map_err(|e| e.locate(&span, &path))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (span, path) = (self.span.clone(), self.path.clone());
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.locate(&span, &path))
    }

    /// A string is a unit variant; a one-key table `{ Variant = value }` is any other kind.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Node::Value(DeValue::String(s)) = &self.node {
            let variant: StrDeserializer<'_, Error> = s.as_ref().into_deserializer();
            return visitor
                .visit_enum(variant)
                .map_err(|e| e.locate(&self.span, &self.path));
        }
        let mut groups = match self.tables() {
            Some(ts) => self.group(&ts, None),
            None => return self.deserialize_any(visitor),
        };
        if groups.len() != 1 {
            return self.deserialize_any(visitor);
        }
        let group = groups.remove(0);
        let path = child_path(&self.path, group.key.get_ref());
        let access = Variant {
            name: group.key,
            value: self.child(&group, path),
        };
        visitor
            .visit_enum(access)
            .map_err(|e| e.locate(&self.span, &self.path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct Variant<'a, 'i> {
    name: &'a Spanned<DeString<'i>>,
    value: ValueDe<'a, 'i>,
}

impl<'de, 'a, 'i> de::EnumAccess<'de> for Variant<'a, 'i> {
    type Error = Error;
    type Variant = ValueDe<'a, 'i>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Error> {
        let name: StrDeserializer<'_, Error> = self.name.get_ref().as_ref().into_deserializer();
        let tag = seed
            .deserialize(name)
            .map_err(|e| e.locate(&self.name.span(), &self.value.path))?;
        Ok((tag, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDe<'_, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", default)]
    struct Inner {
        load_balancer: Option<String>,
        weight: i64,
        #[serde(rename = "AllowMinWeightZero")]
        allow_zero: bool,
        #[serde(alias = "oldName")]
        new_name: String,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", default)]
    struct Outer {
        items: BTreeMap<String, Inner>,
        list: Vec<i64>,
        any: Option<serde_json::Value>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow { factor: u32 },
    }

    fn load<T: DeserializeOwned>(text: &str) -> Result<Parsed<T>, Located> {
        Document::parse(text)?.deserialize(Options::default())
    }

    #[test]
    fn struct_fields_ignore_case_and_map_keys_keep_it() {
        let text = "[Items.MyItem]\nLOADBALANCER = \"drr\"\nWeight = 3\nallowminweightzero = true\n\
                    [items.other]\noldname = \"x\"";
        let parsed: Parsed<Outer> = load(text).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let item = &parsed.value.items["MyItem"];
        assert_eq!(item.load_balancer.as_deref(), Some("drr"));
        assert_eq!(item.weight, 3);
        assert!(item.allow_zero);
        assert_eq!(parsed.value.items["other"].new_name, "x");
    }

    #[test]
    fn unknown_keys_warn_with_their_span() {
        let text = "list = [1]\n[items.a]\nweigth = 2\n";
        let parsed: Parsed<Outer> = load(text).unwrap();
        assert_eq!(parsed.warnings.len(), 1);
        let w = &parsed.warnings[0];
        assert_eq!(&text[w.span.clone()], "weigth");
        assert_eq!(
            w.message,
            "items.a.weigth: unknown key, ignored (did you mean \"weight\"?)"
        );
    }

    #[test]
    fn top_level_unknown_keys_can_be_silenced() {
        let doc = Document::parse("other = 1\n[items.a.nested]\nx = 1").unwrap();
        let quiet: Parsed<Outer> = doc
            .deserialize(Options {
                warn_unknown_top_level: false,
            })
            .unwrap();
        // Only the nested unknown key is reported.
        assert_eq!(quiet.warnings.len(), 1);
        assert!(quiet.warnings[0].message.starts_with("items.a.nested:"));
        let loud: Parsed<Outer> = doc.deserialize(Options::default()).unwrap();
        assert_eq!(loud.warnings.len(), 2);
    }

    #[test]
    fn case_variants_of_one_key_keep_the_last() {
        let text = "[items.a]\nweight = 1\nWEIGHT = 2\n";
        let parsed: Parsed<Outer> = load(text).unwrap();
        assert_eq!(parsed.value.items["a"].weight, 2);
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].message.contains("case-insensitive"));
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let text = "[items.a]\nweight = \"x\"\n";
        let err = load::<Outer>(text).unwrap_err();
        assert_eq!(&text[err.span.clone()], "\"x\"");
        assert_eq!(
            err.message,
            "items.a.weight: invalid type: string \"x\", expected i64"
        );

        let text = "list = [1, true]";
        let err = load::<Outer>(text).unwrap_err();
        assert_eq!(&text[err.span.clone()], "true");
        assert_eq!(
            err.message,
            "list[1]: invalid type: boolean `true`, expected i64"
        );

        let text = "items = 3";
        let err = load::<Outer>(text).unwrap_err();
        assert_eq!(&text[err.span.clone()], "3");
        assert!(
            err.message
                .starts_with("items: invalid type: integer `3`, expected a map"),
            "{}",
            err.message
        );
    }

    #[test]
    fn any_values_keep_their_keys() {
        let text = "[any]\nMixedCase = 1\nlist = [\"a\", 2.5]\nwhen = 1979-05-27T07:32:00Z";
        let parsed: Parsed<Outer> = load(text).unwrap();
        assert_eq!(
            parsed.value.any,
            Some(
                serde_json::json!({"MixedCase": 1, "list": ["a", 2.5], "when": "1979-05-27T07:32:00Z"})
            )
        );
    }

    #[test]
    fn enums_from_strings_and_tables() {
        let parsed: Parsed<Outer> = load("mode = \"fast\"").unwrap();
        assert_eq!(parsed.value.mode, Some(Mode::Fast));
        let parsed: Parsed<Outer> = load("[mode.slow]\nFactor = 2").unwrap();
        assert_eq!(parsed.value.mode, Some(Mode::Slow { factor: 2 }));
        let err = load::<Outer>("mode = \"medium\"").unwrap_err();
        assert!(
            err.message.starts_with("mode: unknown variant `medium`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn integers_in_other_radixes() {
        let parsed: Parsed<Outer> = load("list = [0x10, 0o10, 0b10, -3, 1_000]").unwrap();
        assert_eq!(parsed.value.list, vec![16, 8, 2, -3, 1000]);
    }

    #[test]
    fn syntax_errors_have_a_span() {
        let err = Document::parse("a = \n").unwrap_err();
        assert!(!err.message.is_empty());
        assert!(err.span.start <= 5);
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(suggestion("methd", &["method", "sticky"]), Some("method"));
        assert_eq!(suggestion("zzz", &["method", "sticky"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
