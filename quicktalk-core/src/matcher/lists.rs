//! FIFO lists over one node arena: O(1) push, O(1) unlink, iteration from
//! the oldest. The list heads live with their owners (a label's record, or
//! the matcher's global lists), so finding a list costs no extra lookup.

/// "No node".
pub(super) const NIL: u32 = u32::MAX;

/// The two ends of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) first: u32,
    pub(super) last: u32,
}

impl Head {
    pub(super) const EMPTY: Self = Self {
        first: NIL,
        last: NIL,
    };

    pub(super) fn is_empty(&self) -> bool {
        self.first == NIL
    }
}

/// Which list a node is in: the owner (a label, or [`GLOBAL`]) and the key
/// of the list within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    pub(super) label: u32,
    pub(super) key: u32,
}

/// The owner of the matcher's global lists.
pub(super) const GLOBAL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    prev: u32,
    next: u32,
    value: u32,
    owner: Owner,
}

pub(super) struct Nodes {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Nodes {
    pub(super) fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Appends `value` to the list `head`; returns the node.
    pub(super) fn push_back(&mut self, head: &mut Head, owner: Owner, value: u32) -> u32 {
        let node = Node {
            prev: head.last,
            next: NIL,
            value,
            owner,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.nodes[index as usize] = node;
                index
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if head.last == NIL {
            head.first = index;
        } else {
            self.nodes[head.last as usize].next = index;
        }
        head.last = index;
        index
    }

    /// The list a node is in.
    pub(super) fn owner(&self, index: u32) -> Owner {
        self.nodes[index as usize].owner
    }

    /// Removes a node from its list `head`.
    pub(super) fn unlink(&mut self, head: &mut Head, index: u32) {
        let Node { prev, next, .. } = self.nodes[index as usize];
        if prev == NIL {
            head.first = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            head.last = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.free.push(index);
    }

    /// The values of a list, oldest first.
    pub(super) fn iter(&self, head: Head) -> impl Iterator<Item = u32> + '_ {
        let mut next = head.first;
        std::iter::from_fn(move || {
            if next == NIL {
                return None;
            }
            let node = self.nodes[next as usize];
            next = node.next;
            Some(node.value)
        })
    }

    #[cfg(test)]
    pub(super) fn capacity_used(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: Owner = Owner {
        label: GLOBAL,
        key: 0,
    };

    #[test]
    fn lists_keep_insertion_order_and_unlink_anywhere() {
        let mut nodes = Nodes::new();
        let mut head = Head::EMPTY;
        let a = nodes.push_back(&mut head, OWNER, 1);
        let b = nodes.push_back(&mut head, OWNER, 2);
        let c = nodes.push_back(&mut head, OWNER, 3);
        assert_eq!(nodes.iter(head).collect::<Vec<_>>(), [1, 2, 3]);
        nodes.unlink(&mut head, b);
        assert_eq!(nodes.iter(head).collect::<Vec<_>>(), [1, 3]);
        nodes.unlink(&mut head, a);
        let d = nodes.push_back(&mut head, OWNER, 4);
        assert_eq!(nodes.iter(head).collect::<Vec<_>>(), [3, 4]);
        nodes.unlink(&mut head, c);
        nodes.unlink(&mut head, d);
        assert!(head.is_empty());
        assert_eq!(nodes.owner(d), OWNER);
    }

    #[test]
    fn freed_nodes_are_reused() {
        let mut nodes = Nodes::new();
        let mut head = Head::EMPTY;
        for round in 0..100 {
            let node = nodes.push_back(&mut head, OWNER, round);
            nodes.unlink(&mut head, node);
        }
        assert_eq!(nodes.capacity_used(), 1);
    }
}
