//! `SmallMap`: a map kept as a vector sorted by key, for the model's maps that hold one
//! entry or a few per item (a backend's servers, a frontend's routes).
//!
//! Why not `BTreeMap`: its first entry allocates a whole node of eleven slots, so a map of
//! one server or one route costs most of a kilobyte; at 10,000 frontends and backends the
//! two maps were about 12 MB of trafik's heap (massif). A sorted vector holds exactly what
//! it has, iterates in the same (key) order, and is as fast for a handful of entries. The
//! interface is the part of `BTreeMap`'s the code uses; (de)serialized as a map, like it.
//!
//! Why not `litemap` (already in the dependency tree, the same idea): its `Vec` store grows
//! as a `Vec` does, four entries on the first insert, and most of these maps keep one;
//! growing one entry at a time (`insert_at`) is what took them from 4.2 to 1.0 MB.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SmallMap<K, V> {
    /// Sorted by key, keys unique.
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// As `BTreeMap::insert`: the previous value under an equal key is returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.insert_at(i, key, value);
                None
            }
        }
    }

    /// Grows by one entry at a time: a `Vec`'s first insert reserves four, and most of
    /// these maps keep one (at 10,000 backends and frontends, 3 MB of unused room).
    fn insert_at(&mut self, i: usize, key: K, value: V) {
        if self.entries.len() == self.entries.capacity() {
            self.entries.reserve_exact(1);
        }
        self.entries.insert(i, (key, value));
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The value under `key`, inserted with `make` when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.insert_at(i, key, make());
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn iter(&self) -> Iter<'_, K, V> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

/// Borrowing iterator, in key order.
pub type Iter<'a, K, V> =
    std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

impl<'a, K: Ord, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V> IntoIterator for SmallMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SmallMap<K, V> {
    /// As `BTreeMap`'s: of equal keys, the last one's value stays.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = SmallMap::new();
        map.extend(iter);
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for SmallMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SmallMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for SmallMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SmallMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for SmallMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = SmallMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = SmallMap::new();
                while let Some((k, v)) = access.next_entry()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_btreemap_in_key_order() {
        let mut m: SmallMap<String, u32> = SmallMap::new();
        let mut b = std::collections::BTreeMap::new();
        for (k, v) in [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("", 5)] {
            assert_eq!(m.insert(k.to_string(), v), b.insert(k.to_string(), v));
        }
        assert!(m.iter().eq(b.iter()));
        assert_eq!(m.len(), b.len());
        assert_eq!(m.get("a"), Some(&4));
        assert_eq!(m["c"], 3);
        assert_eq!(m.remove("b"), b.remove("b"));
        assert_eq!(m.remove("zz"), None);
        m.retain(|k, _| k != "c");
        b.retain(|k, _| k != "c");
        assert!(m.iter().eq(b.iter()));
        let collected: SmallMap<&str, u32> = [("y", 1), ("x", 2), ("y", 3)].into_iter().collect();
        assert_eq!(
            collected.iter().collect::<Vec<_>>(),
            vec![(&"x", &2), (&"y", &3)]
        );
        *m.get_or_insert_with("n".to_string(), || 0) += 7;
        assert_eq!(m.get("n"), Some(&7));
    }

    #[test]
    fn holds_no_unused_room() {
        let mut m: SmallMap<String, u32> = SmallMap::new();
        m.insert("a".into(), 1);
        assert_eq!(m.entries.capacity(), 1);
        *m.get_or_insert_with("b".into(), || 2) += 1;
        assert_eq!(m.entries.capacity(), 2);
        let back: SmallMap<String, u32> = serde_json::from_str(r#"{"s":1}"#).unwrap();
        assert_eq!(back.entries.capacity(), 1);
    }

    #[test]
    fn serializes_as_a_map() {
        let m: SmallMap<String, u32> = SmallMap::from([("b".to_string(), 2), ("a".to_string(), 1)]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"a":1,"b":2}"#);
        let back: SmallMap<String, u32> = serde_json::from_str(r#"{"b":2,"a":1,"b":3}"#).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            vec![(&"a".to_string(), &1), (&"b".to_string(), &3)]
        );
    }
}
