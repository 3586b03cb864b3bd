//! `SharedModifiers`: a frontend's path modifiers as the rule index and the runtime hold
//! them. Most frontends have none, and `Modifiers` inline is about 150 bytes, held twice per
//! frontend (its compiled rule in the index, its route): 3 MB at 10,000 frontends. Here it
//! is one pointer, `None` without modifiers, and one allocation shared by both otherwise.
//! It reads as `&Modifiers` (`Deref`), empty when there are none.

use std::ops::Deref;
use std::sync::Arc;

use super::Modifiers;

#[derive(Debug, Clone, Default)]
pub struct SharedModifiers(Option<Arc<Modifiers>>);

/// What a frontend without modifiers reads.
static NONE: Modifiers = Modifiers {
    strip_prefix: Vec::new(),
    strip_prefix_regex: Vec::new(),
    add_prefix: None,
    replace_path_regex: None,
    replace_path: None,
};

impl SharedModifiers {
    pub fn new(modifiers: Modifiers) -> Self {
        SharedModifiers((!modifiers.is_empty()).then(|| Arc::new(modifiers)))
    }
}

impl Deref for SharedModifiers {
    type Target = Modifiers;
    fn deref(&self) -> &Modifiers {
        self.0.as_deref().unwrap_or(&NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_allocates_nothing_and_reads_empty() {
        let none = SharedModifiers::new(Modifiers::default());
        assert!(none.0.is_none());
        assert!(none.is_empty());
        let some = SharedModifiers::new(Modifiers {
            add_prefix: Some("/api".into()),
            ..Modifiers::default()
        });
        let copy = some.clone();
        assert_eq!(copy.add_prefix.as_deref(), Some("/api"));
        assert!(Arc::ptr_eq(
            some.0.as_ref().unwrap(),
            copy.0.as_ref().unwrap()
        ));
    }
}
