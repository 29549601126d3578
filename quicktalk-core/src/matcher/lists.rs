//! Keyed FIFO lists over one node arena: O(1) push, O(1) unlink, iteration
//! from the oldest.
//!
//! Every waiting session sits in a few lists (its language pool, the global
//! pool, one per interest). Unlinking a matched or cancelled session is O(1)
//! per list, so nothing ever scans a queue to remove someone, and an empty
//! list is freed so arbitrary interests cannot grow memory forever.

use std::hash::Hash;

use rustc_hash::FxHashMap;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    prev: u32,
    next: u32,
    list: u32,
    value: u32,
}

struct Head<K> {
    first: u32,
    last: u32,
    key: Option<K>,
}

pub(super) struct Lists<K> {
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    heads: Vec<Head<K>>,
    free_heads: Vec<u32>,
    index: FxHashMap<K, u32>,
}

impl<K: Hash + Eq + Clone> Lists<K> {
    pub(super) fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            heads: Vec::new(),
            free_heads: Vec::new(),
            index: FxHashMap::default(),
        }
    }

    /// Appends `value` to the list `key` (created if needed); returns the node
    /// to pass to [`Lists::unlink`].
    pub(super) fn push_back(&mut self, key: K, value: u32) -> u32 {
        let list = match self.index.get(&key) {
            Some(&list) => list,
            None => {
                let head = Head {
                    first: NIL,
                    last: NIL,
                    key: Some(key.clone()),
                };
                let list = match self.free_heads.pop() {
                    Some(list) => {
                        self.heads[list as usize] = head;
                        list
                    }
                    None => {
                        self.heads.push(head);
                        (self.heads.len() - 1) as u32
                    }
                };
                self.index.insert(key, list);
                list
            }
        };
        let last = self.heads[list as usize].last;
        let node = Node {
            prev: last,
            next: NIL,
            list,
            value,
        };
        let index = match self.free_nodes.pop() {
            Some(index) => {
                self.nodes[index as usize] = node;
                index
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if last == NIL {
            self.heads[list as usize].first = index;
        } else {
            self.nodes[last as usize].next = index;
        }
        self.heads[list as usize].last = index;
        index
    }

    /// Removes a node from its list; frees the list when it becomes empty.
    pub(super) fn unlink(&mut self, index: u32) {
        let Node {
            prev, next, list, ..
        } = self.nodes[index as usize];
        if prev == NIL {
            self.heads[list as usize].first = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.heads[list as usize].last = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.free_nodes.push(index);
        let head = &mut self.heads[list as usize];
        if head.first == NIL {
            if let Some(key) = head.key.take() {
                self.index.remove(&key);
            }
            self.free_heads.push(list);
        }
    }

    /// The values of list `key`, oldest first.
    pub(super) fn iter(&self, key: &K) -> ListIter<'_, K> {
        let next = self
            .index
            .get(key)
            .map_or(NIL, |&list| self.heads[list as usize].first);
        ListIter { lists: self, next }
    }

    /// Number of non-empty lists (for tests and stats).
    #[cfg(test)]
    pub(super) fn list_count(&self) -> usize {
        self.index.len()
    }
}

pub(super) struct ListIter<'a, K> {
    lists: &'a Lists<K>,
    next: u32,
}

impl<K> Iterator for ListIter<'_, K> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next == NIL {
            return None;
        }
        let node = self.lists.nodes[self.next as usize];
        self.next = node.next;
        Some(node.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_insertion_order_and_unlink_anywhere() {
        let mut lists: Lists<&str> = Lists::new();
        let a = lists.push_back("x", 1);
        let b = lists.push_back("x", 2);
        let c = lists.push_back("x", 3);
        lists.push_back("y", 9);
        assert_eq!(lists.iter(&"x").collect::<Vec<_>>(), [1, 2, 3]);
        lists.unlink(b);
        assert_eq!(lists.iter(&"x").collect::<Vec<_>>(), [1, 3]);
        lists.unlink(a);
        assert_eq!(lists.iter(&"x").collect::<Vec<_>>(), [3]);
        let d = lists.push_back("x", 4);
        assert_eq!(lists.iter(&"x").collect::<Vec<_>>(), [3, 4]);
        lists.unlink(c);
        lists.unlink(d);
        assert_eq!(lists.iter(&"x").count(), 0);
        assert_eq!(lists.list_count(), 1, "the empty list is freed");
        assert_eq!(lists.iter(&"y").collect::<Vec<_>>(), [9]);
    }

    #[test]
    fn freed_nodes_and_lists_are_reused() {
        let mut lists: Lists<u32> = Lists::new();
        for round in 0..100 {
            let node = lists.push_back(round, round);
            lists.unlink(node);
        }
        assert_eq!(lists.nodes.len(), 1);
        assert_eq!(lists.heads.len(), 1);
        assert_eq!(lists.list_count(), 0);
    }
}
