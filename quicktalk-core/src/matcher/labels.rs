//! Interned labels (interests and languages) with reference counts, each
//! record holding the heads of the lists keyed by it.
//!
//! A lookup is one probe of a compact hash table plus the record it points
//! at, which already holds the list heads: no string-keyed maps on the hot
//! path. A tag nobody waits with costs that one probe and no list walks, and
//! a label is freed when the last waiting session using it leaves, so
//! arbitrary client input cannot grow the table forever.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use smallvec::SmallVec;

use super::lists::Head;

/// An interned label.
pub(super) type Label = u32;

struct Record {
    hash: u64,
    name: Arc<str>,
    refs: u32,
    /// The non-empty lists keyed by this label, by list key.
    lists: SmallVec<[(u32, Head); 2]>,
}

pub(super) struct Labels {
    table: HashTable<Label>,
    records: Vec<Record>,
    free: Vec<Label>,
    /// Fast and seeded per process, so clients cannot aim collisions.
    hasher: foldhash::fast::RandomState,
}

impl Labels {
    pub(super) fn new() -> Self {
        Self {
            table: HashTable::new(),
            records: Vec::new(),
            free: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn find(&self, hash: u64, name: &str) -> Option<Label> {
        let records = &self.records;
        self.table
            .find(hash, |&label| {
                let record = &records[label as usize];
                record.hash == hash && *record.name == *name
            })
            .copied()
    }

    /// The hash [`Labels::get`] and [`Labels::acquire`] take, computed once per name.
    pub(super) fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The label of `name` (hashed with [`Labels::hash`]), if some waiting
    /// session uses it.
    pub(super) fn get(&self, hash: u64, name: &str) -> Option<Label> {
        self.find(hash, name)
    }

    /// The label of `name` (hashed with [`Labels::hash`]), interned if
    /// needed; one more reference.
    pub(super) fn acquire(&mut self, hash: u64, name: &Arc<str>) -> Label {
        if let Some(label) = self.find(hash, name) {
            self.records[label as usize].refs += 1;
            return label;
        }
        let record = Record {
            hash,
            name: name.clone(),
            refs: 1,
            lists: SmallVec::new(),
        };
        let label = match self.free.pop() {
            Some(label) => {
                self.records[label as usize] = record;
                label
            }
            None => {
                self.records.push(record);
                (self.records.len() - 1) as Label
            }
        };
        let records = &self.records;
        self.table
            .insert_unique(hash, label, |&l| records[l as usize].hash);
        label
    }

    /// One reference fewer; the label is freed at zero.
    pub(super) fn release(&mut self, label: Label) {
        let record = &mut self.records[label as usize];
        record.refs -= 1;
        if record.refs > 0 {
            return;
        }
        debug_assert!(record.lists.is_empty(), "a freed label has no lists");
        // The name stays until the slot is reused: freeing it here would
        // cost an allocation for a placeholder.
        let hash = record.hash;
        if let Ok(entry) = self.table.find_entry(hash, |&l| l == label) {
            entry.remove();
        }
        self.free.push(label);
    }

    /// The text of a live label.
    pub(super) fn name(&self, label: Label) -> &Arc<str> {
        &self.records[label as usize].name
    }

    /// The head of list `key` of `label` (empty if it has none).
    pub(super) fn head(&self, label: Label, key: u32) -> Head {
        self.records[label as usize]
            .lists
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Head::EMPTY, |(_, head)| *head)
    }

    /// The head of list `key` of `label`, created empty if needed.
    pub(super) fn head_mut(&mut self, label: Label, key: u32) -> &mut Head {
        let lists = &mut self.records[label as usize].lists;
        let position = match lists.iter().position(|(k, _)| *k == key) {
            Some(position) => position,
            None => {
                lists.push((key, Head::EMPTY));
                lists.len() - 1
            }
        };
        &mut lists[position].1
    }

    /// Drops list `key` of `label` once it is empty.
    pub(super) fn drop_if_empty(&mut self, label: Label, key: u32) {
        let lists = &mut self.records[label as usize].lists;
        if let Some(position) = lists
            .iter()
            .position(|(k, head)| *k == key && head.is_empty())
        {
            lists.swap_remove(position);
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_live_while_referenced() {
        let mut labels = Labels::new();
        let music: Arc<str> = Arc::from("music");
        let hash = labels.hash("music");
        let a = labels.acquire(hash, &music);
        let b = labels.acquire(hash, &music);
        assert_eq!(a, b);
        assert_eq!(labels.get(hash, "music"), Some(a));
        labels.release(a);
        assert_eq!(labels.get(hash, "music"), Some(a));
        labels.release(b);
        assert_eq!(labels.get(hash, "music"), None);
        assert_eq!(labels.len(), 0);
        let art = labels.acquire(labels.hash("art"), &Arc::from("art"));
        assert_eq!(art, a, "freed labels are reused");
        assert_eq!(&**labels.name(art), "art");
    }

    #[test]
    fn list_heads_live_in_the_label_record() {
        let mut labels = Labels::new();
        let tag = labels.acquire(labels.hash("tag"), &Arc::from("tag"));
        assert_eq!(labels.head(tag, 7), Head::EMPTY);
        labels.head_mut(tag, 7).first = 3;
        assert_eq!(labels.head(tag, 7).first, 3);
        labels.head_mut(tag, 7).first = super::super::lists::NIL;
        labels.drop_if_empty(tag, 7);
        assert!(labels.records[tag as usize].lists.is_empty());
    }
}
