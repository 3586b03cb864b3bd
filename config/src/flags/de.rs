//! Reads string trees into the model: the one deserializer behind flags and store keys. A
//! leaf becomes whatever serde asks for (`"true"` a bool, `"10s"` a duration, `"a,b"` a
//! list); struct fields match keys ignoring case, as the file's do. Several values for one
//! key (the file's, the store's, the flags', or two spellings) are layered: tables merge key
//! by key, anything else takes the last one, so a later source wins where it says something.

use crate::de::{find_field, suggestion};
use std::cell::RefCell;
use std::fmt;

use serde::de::Error as _;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::tree::Tree;

/// Reads `layers` (earliest first, later ones winning) as a `T`. Unknown keys are errors when
/// they come from a flag (an operator typed them) and warnings otherwise (a store shared with
/// other tools may hold keys of theirs).
pub fn read<T: DeserializeOwned>(layers: &[Tree]) -> Result<(T, Vec<String>), String> {
    let ctx = Ctx::default();
    let de = Values {
        values: layers.to_vec(),
        path: String::new(),
        ctx: &ctx,
    };
    let value = T::deserialize(de).map_err(|e| e.to_string())?;
    let mut warnings = ctx.warnings.into_inner();
    warnings.sort();
    Ok((value, warnings))
}

#[derive(Default)]
struct Ctx {
    warnings: RefCell<Vec<String>>,
}

/// A message, and once known, the flag or key it is about.
#[derive(Debug)]
pub struct Error {
    message: String,
    at: Option<String>,
}

impl Error {
    fn at(mut self, at: String) -> Self {
        if self.at.is_none() && !at.is_empty() {
            self.at = Some(at);
        }
        self
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            at: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Go's `strconv.ParseBool` words, and v1 entry-point strings' `enable`/`on`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "on" | "enable" | "yes" => Some(true),
        "false" | "f" | "0" | "off" | "disable" | "no" => Some(false),
        _ => None,
    }
}

/// The values given for one key, earliest first.
struct Values<'c> {
    values: Vec<Tree>,
    /// Dotted path in the model, for messages about nodes that have no origin.
    path: String,
    ctx: &'c Ctx,
}

/// One key of a merged table and every value given for it.
struct Group {
    name: String,
    values: Vec<Tree>,
}

impl<'c> Values<'c> {
    /// Where the value in force came from: the flag or store key, else the model path.
    fn origin(&self) -> String {
        match self.values.last().map(Tree::origin) {
            Some(o) if !o.is_empty() => o.to_string(),
            _ => self.path.clone(),
        }
    }

    fn leaf(&self) -> Result<&str, Error> {
        match self.values.last() {
            Some(Tree::Leaf { value, .. }) => Ok(value.as_str()),
            Some(Tree::Table { .. }) => Err(de::Error::custom(
                "expected a value, found a table of keys under it",
            )),
            None => Err(de::Error::custom("no value")),
        }
        .map_err(|e: Error| e.at(self.origin()))
    }

    fn parse<N: std::str::FromStr>(&self, what: &str) -> Result<N, Error> {
        let text = self.leaf()?;
        text.trim().parse().map_err(|_| {
            Error::custom(format!("invalid value {text:?}: expected {what}")).at(self.origin())
        })
    }

    /// The keys of every table given, in order. A leaf `true` (`--api`, `--etcd` alone) only
    /// enables the table; any other leaf where a table belongs is an error.
    fn entries(&self) -> Result<Vec<(String, Tree)>, Error> {
        let mut out = Vec::new();
        for value in &self.values {
            match value {
                Tree::Table { entries, .. } => out.extend(entries.iter().cloned()),
                Tree::Leaf { value, origin } if parse_bool(value) == Some(true) => {
                    let _ = origin;
                }
                Tree::Leaf { value, origin } => {
                    let at = if origin.is_empty() {
                        self.path.clone()
                    } else {
                        origin.clone()
                    };
                    return Err(Error::custom(format!(
                        "expected a section, found the value {value:?} (a section is enabled \
                         alone, --name, or by its keys, --name.key=value)"
                    ))
                    .at(at));
                }
            }
        }
        Ok(out)
    }

    /// Pairs each key with what the visitor should see: with `fields`, the struct field it
    /// names, ignoring case; without, the key itself. Values under one name are kept in order.
    fn group(&self, fields: Option<&'static [&'static str]>) -> Result<Vec<Group>, Error> {
        let mut groups: Vec<Group> = Vec::new();
        for (key, value) in self.entries()? {
            let name = match fields {
                None => key.clone(),
                Some(fields) => match find_field(&key, fields) {
                    Some(f) => f.to_string(),
                    None => {
                        self.unknown(&key, &value, fields)?;
                        continue;
                    }
                },
            };
            match groups.iter_mut().find(|g| g.name == name) {
                Some(g) => g.values.push(value),
                None => groups.push(Group {
                    name,
                    values: vec![value],
                }),
            }
        }
        Ok(groups)
    }

    fn unknown(&self, key: &str, value: &Tree, fields: &[&'static str]) -> Result<(), Error> {
        let path = child_path(&self.path, key);
        let segments: Vec<&str> = path.split('.').collect();
        let why = match crate::v1_keys::not_implemented(&segments) {
            Some(why) => why.to_string(),
            None => {
                let hint = suggestion(key, fields)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                format!("{path} is not a configuration key{hint}")
            }
        };
        let origin = value.origin();
        if origin.starts_with("--") {
            return Err(Error::custom(format!("unknown flag: {why}")).at(origin.to_string()));
        }
        if !origin.is_empty() {
            self.ctx
                .warnings
                .borrow_mut()
                .push(format!("{origin}: {why}; ignored"));
        }
        Ok(())
    }

    fn child(&self, name: &str, values: Vec<Tree>) -> Values<'c> {
        Values {
            values,
            path: child_path(&self.path, name),
            ctx: self.ctx,
        }
    }

    /// A list: the last value given, a comma list (`a,b`) or a table indexed `0`, `1`, …
    fn items(&self) -> Result<Vec<Values<'c>>, Error> {
        match self.values.last() {
            Some(Tree::Leaf { value, origin }) => {
                if value.is_empty() {
                    return Ok(Vec::new());
                }
                let items = value.split(',').enumerate().map(|(i, item)| {
                    let leaf = Tree::Leaf {
                        value: item.to_string(),
                        origin: origin.clone(),
                    };
                    self.child(&i.to_string(), vec![leaf])
                });
                Ok(items.collect())
            }
            Some(Tree::Table { entries, origin }) => {
                let mut indexed: Vec<(usize, Vec<Tree>)> = Vec::new();
                for (key, value) in entries {
                    let Ok(i) = key.parse::<usize>() else {
                        let at = if value.origin().is_empty() {
                            origin.clone()
                        } else {
                            value.origin().to_string()
                        };
                        return Err(Error::custom(format!(
                            "{key:?} is not a list index (a list is a comma list, or keys \
                             0, 1, …)"
                        ))
                        .at(at));
                    };
                    match indexed.iter_mut().find(|(j, _)| *j == i) {
                        Some((_, values)) => values.push(value.clone()),
                        None => indexed.push((i, vec![value.clone()])),
                    }
                }
                indexed.sort_by_key(|(i, _)| *i);
                Ok(indexed
                    .into_iter()
                    .map(|(i, values)| self.child(&i.to_string(), values))
                    .collect())
            }
            None => Ok(Vec::new()),
        }
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

struct Entries<'p, 'c> {
    groups: std::vec::IntoIter<Group>,
    parent: &'p Values<'c>,
    pending: Option<Group>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(group) = self.groups.next() else {
            return Ok(None);
        };
        let key: StrDeserializer<'_, Error> = group.name.as_str().into_deserializer();
        let result = seed.deserialize(key);
        self.pending = Some(group);
        result.map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let group = self
            .pending
            .take()
            .ok_or_else(|| Error::custom("value asked for before its key"))?;
        let child = self.parent.child(&group.name, group.values);
        let origin = child.origin();
        seed.deserialize(child).map_err(|e: Error| e.at(origin))
    }
}

struct Items<'c> {
    items: std::vec::IntoIter<Values<'c>>,
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let origin = item.origin();
        seed.deserialize(item)
            .map(Some)
            .map_err(|e: Error| e.at(origin))
    }
}

impl<'de> de::Deserializer<'de> for Values<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.values.last() {
            Some(Tree::Table { .. }) => self.deserialize_map(visitor),
            _ => visitor.visit_str(self.leaf()?),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.leaf()?;
        match parse_bool(text) {
            Some(b) => visitor.visit_bool(b),
            None => Err(
                Error::custom(format!("invalid value {text:?}: expected true or false"))
                    .at(self.origin()),
            ),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let origin = self.origin();
        visitor
            .visit_i64(self.parse("an integer")?)
            .map_err(|e: Error| e.at(origin))
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let origin = self.origin();
        visitor
            .visit_u64(self.parse("a non-negative integer")?)
            .map_err(|e: Error| e.at(origin))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(self.parse("a number")?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let origin = self.origin();
        visitor
            .visit_str(self.leaf()?)
            .map_err(|e: Error| e.at(origin))
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// A key that is present is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let origin = self.origin();
        let mut access = Items {
            items: self.items()?.into_iter(),
        };
        visitor
            .visit_seq(&mut access)
            .map_err(|e: Error| e.at(origin))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let groups = self.group(None)?;
        let origin = self.origin();
        let mut access = Entries {
            groups: groups.into_iter(),
            parent: &self,
            pending: None,
        };
        visitor
            .visit_map(&mut access)
            .map_err(|e: Error| e.at(origin))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let groups = self.group(Some(fields))?;
        let origin = self.origin();
        let mut access = Entries {
            groups: groups.into_iter(),
            parent: &self,
            pending: None,
        };
        visitor
            .visit_map(&mut access)
            .map_err(|e: Error| e.at(origin))
    }

    /// A unit variant, named by the leaf.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let origin = self.origin();
        let variant: StrDeserializer<'_, Error> = self.leaf()?.into_deserializer();
        visitor.visit_enum(variant).map_err(|e: Error| e.at(origin))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}
