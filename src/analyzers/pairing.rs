//! Request/response pairing with the four capture times, shared by the analyzers.
//!
//! An [`Exchange`] is one request and its response: `request_first_ns`, `request_last_ns`,
//! `response_first_ns`, `response_last_ns` (see the timing rules in the parent module) and the
//! derived latencies, all saturating so that extreme timestamps never overflow.
//!
//! [`PairingQueue`] holds the exchanges of one connection in request order. Pipelined
//! protocols (HTTP/1.x, most request/response protocols over TCP) answer the oldest request
//! first: [`PairingQueue::oldest_unanswered`]. Multiplexed ones (DNS ids, HTTP/2 stream ids)
//! find the request by key: [`PairingQueue::by_key`]. While an exchange waits, its start time
//! is held in the pass's low watermark, so the pipeline can release finished rows in time
//! order; [`PairingQueue::pop_front_done`] and [`PairingQueue::drain`] release it.

use super::Watermark;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::hash::Hash;

/// The four capture times of one exchange (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request_first_ns: Option<i64>,
    pub request_last_ns: Option<i64>,
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
}

/// `a - b`, saturating at the ends of `i64`.
pub fn elapsed(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    Some(a?.saturating_sub(b?))
}

impl Exchange {
    /// Time to first byte: response first − request first.
    pub fn ttfb_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_first_ns)
    }
    /// Total: response last − request first.
    pub fn total_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_first_ns)
    }
    /// Server time: response first − request last.
    pub fn server_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_last_ns)
    }
    /// Response last − request last (tshark's `http.time`).
    pub fn tshark_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_last_ns)
    }
    /// When the exchange started: its request, or for an orphan response its response.
    pub fn start_ns(&self) -> Option<i64> {
        self.request_first_ns.or(self.response_first_ns)
    }
}

/// One waiting exchange and what the analyzer keeps with it.
#[derive(Debug)]
pub struct Pending<K, T> {
    pub key: K,
    pub times: Exchange,
    /// Protocol-specific state and fields.
    pub item: T,
    pub answered: bool,
    pub done: bool,
    /// Start time held in the watermark.
    mark: Option<i64>,
}

/// The exchanges in flight on one connection (or one multiplexed session), in request order.
///
/// Lookup by key is O(1) (an index by key; removed exchanges leave a hole that is skipped at
/// the front), so multiplexed protocols with many requests in flight stay linear. Keys are
/// unique among waiting exchanges: a protocol whose keys can repeat (a retransmitted DNS
/// query) looks the key up first. A protocol whose keys only grow uses
/// [`PairingQueue::ordered`]: found by binary search, nothing hashed per exchange; one whose
/// keys count up by one (HTTP/1.x depths) uses [`PairingQueue::consecutive`]: the slot is
/// computed from the key, nothing kept per exchange.
#[derive(Debug)]
pub struct PairingQueue<K, T> {
    /// Request order; `None` where an exchange was removed out of order.
    waiting: VecDeque<Option<Pending<K, T>>>,
    /// Sequence number of `waiting[0]`.
    front_seq: u64,
    index: KeyIndex<K>,
    live: usize,
    /// Most exchanges in flight before the oldest is given up (bounds memory).
    limit: usize,
}

impl<K: Eq + Hash + Clone, T> Default for PairingQueue<K, T> {
    /// No limit of its own: the analyzer bounds it (DNS, HTTP count against wider budgets).
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

/// How exchanges are found by key.
#[derive(Debug)]
enum KeyIndex<K> {
    /// Any keys: key → sequence number.
    Hashed(FxHashMap<K, u64>),
    /// Keys pushed in increasing order: the key of every slot of `waiting` (holes too), in
    /// step with it, searched by `cmp`.
    Ordered {
        keys: VecDeque<K>,
        cmp: fn(&K, &K) -> Ordering,
    },
    /// Each key pushed is the last plus one, so key − sequence number is the same for all:
    /// `offset` (set by the first push). A push that breaks the rule, or a compaction that
    /// renumbers, turns the index into `Hashed`.
    Consecutive {
        offset: Option<u64>,
        number: fn(&K) -> u64,
    },
}

fn compare<K: Ord>(a: &K, b: &K) -> Ordering {
    a.cmp(b)
}

impl<K: Ord + Eq + Hash + Clone, T> PairingQueue<K, T> {
    /// A queue whose keys are pushed in increasing order (each key greater than the last).
    pub fn ordered(limit: usize) -> Self {
        let mut queue = Self::new(limit);
        queue.index = KeyIndex::Ordered {
            keys: VecDeque::new(),
            cmp: compare::<K>,
        };
        queue
    }
}

impl<K: Eq + Hash + Clone, T> PairingQueue<K, T> {
    /// A queue whose keys count up by one from push to push, `number` telling a key's value.
    pub fn consecutive(limit: usize, number: fn(&K) -> u64) -> Self {
        let mut queue = Self::new(limit);
        queue.index = KeyIndex::Consecutive {
            offset: None,
            number,
        };
        queue
    }

    pub fn new(limit: usize) -> Self {
        PairingQueue {
            waiting: VecDeque::new(),
            front_seq: 0,
            index: KeyIndex::Hashed(FxHashMap::default()),
            live: 0,
            limit: limit.max(1),
        }
    }

    /// The sequence number the key was pushed with (its slot may be a hole since).
    #[inline]
    fn seq_of(&self, key: &K) -> Option<u64> {
        match &self.index {
            KeyIndex::Hashed(index) => index.get(key).copied(),
            KeyIndex::Ordered { keys, cmp } => keys
                .binary_search_by(|k| cmp(k, key))
                .ok()
                .map(|i| self.front_seq + i as u64),
            KeyIndex::Consecutive { offset, number } => Some(number(key).wrapping_sub((*offset)?)),
        }
    }

    /// Replaces a computed index by a hashed one (keys that stopped counting up by one).
    fn hash_index(&mut self) {
        let index = self
            .waiting
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| Some((slot.as_ref()?.key.clone(), self.front_seq + i as u64)))
            .collect();
        self.index = KeyIndex::Hashed(index);
    }

    /// The slot of a sequence number.
    #[inline]
    fn slot(&mut self, seq: u64) -> Option<&mut Option<Pending<K, T>>> {
        let at = usize::try_from(seq.checked_sub(self.front_seq)?).ok()?;
        self.waiting.get_mut(at)
    }

    /// Removes the front slot (an exchange or a hole), keeping the index in step.
    #[inline]
    fn pop_slot(&mut self) -> Option<Option<Pending<K, T>>> {
        let slot = self.waiting.pop_front()?;
        let seq = self.front_seq;
        self.front_seq += 1;
        match &mut self.index {
            KeyIndex::Hashed(index) => {
                // A later exchange may have reused the key (callers should not, but then the
                // index points at the later one and must stay).
                if let Some(p) = &slot {
                    if index.get(&p.key) == Some(&seq) {
                        index.remove(&p.key);
                    }
                }
            }
            KeyIndex::Ordered { keys, .. } => {
                keys.pop_front();
            }
            KeyIndex::Consecutive { .. } => {}
        }
        Some(slot)
    }

    /// Exchanges waiting.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Whether an exchange with this key is waiting.
    pub fn contains(&self, key: &K) -> bool {
        let Some(seq) = self.seq_of(key) else {
            return false;
        };
        let at = seq
            .checked_sub(self.front_seq)
            .and_then(|d| usize::try_from(d).ok());
        at.and_then(|at| self.waiting.get(at))
            .is_some_and(Option::is_some)
    }

    /// A new request with `key` that started at `first_ns`. When the queue is full, the
    /// oldest exchange is returned (released from the watermark) for the caller to report as
    /// unanswered.
    pub fn push_request(
        &mut self,
        key: K,
        first_ns: i64,
        item: T,
        marks: &mut Watermark,
    ) -> Option<Pending<K, T>> {
        self.push(key, Some(first_ns), item, marks)
    }

    /// A new exchange, holding the watermark at `start_ns` when given. Without a start (an
    /// analyzer whose message in progress already holds the watermark) the exchange holds
    /// nothing until [`Pending::hold`]. As [`Self::push_request`] when the queue is full.
    #[inline]
    pub fn push(
        &mut self,
        key: K,
        start_ns: Option<i64>,
        item: T,
        marks: &mut Watermark,
    ) -> Option<Pending<K, T>> {
        let evicted = if self.live >= self.limit {
            self.pop_front_if(marks, |_| true)
        } else {
            None
        };
        if let Some(t) = start_ns {
            marks.add(t);
        }
        let seq = self.front_seq + self.waiting.len() as u64;
        if let KeyIndex::Consecutive { offset, number } = &mut self.index {
            let expected = *offset.get_or_insert(number(&key).wrapping_sub(seq));
            if number(&key).wrapping_sub(seq) != expected {
                self.hash_index();
            }
        }
        match &mut self.index {
            KeyIndex::Hashed(index) => {
                index.insert(key.clone(), seq);
            }
            KeyIndex::Ordered { keys, cmp } => {
                debug_assert!(
                    keys.back()
                        .is_none_or(|last| cmp(last, &key) == Ordering::Less),
                    "keys of an ordered queue only grow"
                );
                keys.push_back(key.clone());
            }
            KeyIndex::Consecutive { .. } => {}
        }
        self.waiting.push_back(Some(Pending {
            key,
            times: Exchange {
                request_first_ns: start_ns,
                ..Exchange::default()
            },
            item,
            answered: false,
            done: false,
            mark: start_ns,
        }));
        self.live += 1;
        evicted
    }

    /// The waiting exchanges in request order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Pending<K, T>> {
        self.waiting.iter_mut().flatten()
    }

    /// The oldest request without a response yet (pipelined protocols answer in order).
    /// Scans from the front, so it costs the number of answered exchanges still waiting for
    /// their end, at most the limit.
    #[inline]
    pub fn oldest_unanswered(&mut self) -> Option<&mut Pending<K, T>> {
        self.waiting.iter_mut().flatten().find(|p| !p.answered)
    }

    /// The waiting exchange with this key (multiplexed protocols).
    #[inline]
    pub fn by_key(&mut self, key: &K) -> Option<&mut Pending<K, T>> {
        let seq = self.seq_of(key)?;
        self.slot(seq)?.as_mut()
    }

    /// Removes and returns the exchange with this key, released from the watermark.
    pub fn remove(&mut self, key: &K, marks: &mut Watermark) -> Option<Pending<K, T>> {
        let seq = self.seq_of(key)?;
        let p = self.slot(seq)?.take()?;
        if let KeyIndex::Hashed(index) = &mut self.index {
            index.remove(key);
        }
        self.live -= 1;
        self.trim_front();
        self.compact_if_mostly_holes();
        Some(release(p, marks))
    }

    /// The oldest exchange, if `wanted` says so, released from the watermark (timeouts: call
    /// until `None` with a test on its start time).
    pub fn pop_front_where(
        &mut self,
        marks: &mut Watermark,
        wanted: impl Fn(&Pending<K, T>) -> bool,
    ) -> Option<Pending<K, T>> {
        self.pop_front_if(marks, wanted)
    }

    /// The oldest exchange, if it is `done`, released from the watermark: call until `None`
    /// to emit finished exchanges in request order.
    #[inline]
    pub fn pop_front_done(&mut self, marks: &mut Watermark) -> Option<Pending<K, T>> {
        self.pop_front_if(marks, |p| p.done)
    }

    /// Every exchange still held (connection end), oldest first, released from the watermark.
    pub fn drain(&mut self, marks: &mut Watermark) -> Vec<Pending<K, T>> {
        match &mut self.index {
            KeyIndex::Hashed(index) => index.clear(),
            KeyIndex::Ordered { keys, .. } => keys.clear(),
            KeyIndex::Consecutive { .. } => {}
        }
        self.live = 0;
        self.front_seq += self.waiting.len() as u64;
        self.waiting
            .drain(..)
            .flatten()
            .map(|p| release(p, marks))
            .collect()
    }

    #[inline]
    fn pop_front_if(
        &mut self,
        marks: &mut Watermark,
        wanted: impl Fn(&Pending<K, T>) -> bool,
    ) -> Option<Pending<K, T>> {
        self.trim_front();
        if !self.waiting.front()?.as_ref().is_some_and(wanted) {
            return None;
        }
        let p = self.pop_slot()??;
        self.live -= 1;
        self.trim_front();
        Some(release(p, marks))
    }

    /// An empty queue keeps little storage: a connection that once had many exchanges in
    /// flight kept their slots while idle (10,000 connections that each answered a burst of
    /// 100 pipelined requests held ~14 KiB each, beyond every budget).
    fn release_spare(&mut self) {
        if self.waiting.capacity() > KEPT_EMPTY_SLOTS {
            self.waiting = VecDeque::new();
        }
        match &mut self.index {
            KeyIndex::Hashed(index) if index.capacity() > KEPT_EMPTY_SLOTS => {
                *index = FxHashMap::default();
            }
            KeyIndex::Ordered { keys, .. } if keys.capacity() > KEPT_EMPTY_SLOTS => {
                *keys = VecDeque::new();
            }
            _ => {}
        }
    }

    /// Exchanges answered out of order behind an old one that waits (a lost DNS response
    /// waiting for its timeout) leave holes that the front does not trim: once they outnumber
    /// the waiting exchanges, they are squeezed out and the index renumbered, so memory
    /// follows the exchanges in flight, not the request rate times the timeout. Amortized
    /// O(1): each compaction costs what at least as many removals left behind.
    fn compact_if_mostly_holes(&mut self) {
        let holes = self.waiting.len() - self.live;
        if holes <= self.live + HOLES_KEPT {
            return;
        }
        self.front_seq += self.waiting.len() as u64;
        self.waiting.retain(Option::is_some);
        self.front_seq -= self.waiting.len() as u64;
        if matches!(self.index, KeyIndex::Consecutive { .. }) {
            // Renumbering breaks key − sequence number.
            self.hash_index();
            return;
        }
        let renumbered = self.waiting.iter().flatten().map(|p| p.key.clone());
        match &mut self.index {
            KeyIndex::Hashed(index) => {
                for (i, key) in renumbered.enumerate() {
                    index.insert(key, self.front_seq + i as u64);
                }
            }
            KeyIndex::Ordered { keys, .. } => *keys = renumbered.collect(),
            KeyIndex::Consecutive { .. } => {}
        }
    }

    /// Drops the holes left at the front by exchanges removed out of order.
    #[inline]
    /// Also where the last exchange leaves (in order or not): an empty queue gives back its
    /// spare storage.
    fn trim_front(&mut self) {
        while matches!(self.waiting.front(), Some(None)) {
            self.pop_slot();
        }
        if self.live == 0 {
            self.release_spare();
        }
    }
}

/// Slots an empty queue keeps (see [`PairingQueue::release_spare`]): one request at a time
/// reuses them without allocating.
const KEPT_EMPTY_SLOTS: usize = 8;

/// Holes tolerated before [`PairingQueue::compact_if_mostly_holes`] bothers.
const HOLES_KEPT: usize = 1024;

impl<K, T> Pending<K, T> {
    /// Holds the watermark at `start_ns` from now on (instead of where it held it, if
    /// anywhere): for an exchange pushed without a start, or whose start moved earlier.
    pub fn hold(&mut self, start_ns: i64, marks: &mut Watermark) {
        match self.mark.replace(start_ns) {
            Some(old) => marks.replace(old, start_ns),
            None => marks.add(start_ns),
        }
    }

    /// As [`Self::hold`], taking over a hold at `released` that the caller owned (the message
    /// that just completed): when both are the same time the watermark is not touched, which
    /// is the usual case of a request handing its start to its transaction.
    pub fn hold_instead_of(&mut self, released: i64, start_ns: i64, marks: &mut Watermark) {
        let mut given_up = [Some(released), self.mark.replace(start_ns)];
        match given_up.iter_mut().find(|t| **t == Some(start_ns)) {
            Some(kept) => *kept = None,
            None => marks.add(start_ns),
        }
        for t in given_up.into_iter().flatten() {
            marks.remove(t);
        }
    }

    /// Where this exchange holds the watermark, if it does.
    pub fn held_at(&self) -> Option<i64> {
        self.mark
    }
}

#[inline]
fn release<K, T>(mut p: Pending<K, T>, marks: &mut Watermark) -> Pending<K, T> {
    if let Some(t) = p.mark.take() {
        marks.remove(t);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: a queue emptied after a burst gives its slots back (10,000 idle connections
    /// that had answered 100 pipelined requests each held ~14 KiB apiece), while one request
    /// at a time reuses what it has.
    #[test]
    fn an_emptied_queue_gives_back_what_a_burst_took() {
        let mut marks = Watermark::default();
        let indexed: [PairingQueue<u32, ()>; 3] = [
            PairingQueue::new(1000),
            PairingQueue::ordered(1000),
            PairingQueue::consecutive(1000, |k| u64::from(*k)),
        ];
        for mut q in indexed {
            for key in 0..100 {
                q.push_request(key, i64::from(key), (), &mut marks);
            }
            assert!(q.waiting.capacity() >= 100);
            for key in 0..100 {
                q.by_key(&key).unwrap().done = true;
            }
            while q.pop_front_done(&mut marks).is_some() {}
            assert!(q.is_empty());
            assert!(
                q.waiting.capacity() <= KEPT_EMPTY_SLOTS,
                "{}",
                q.waiting.capacity()
            );
            match &q.index {
                KeyIndex::Hashed(index) => assert!(index.capacity() <= KEPT_EMPTY_SLOTS),
                KeyIndex::Ordered { keys, .. } => assert!(keys.capacity() <= KEPT_EMPTY_SLOTS),
                KeyIndex::Consecutive { .. } => {}
            }
            // Keys and order still work after the storage went.
            q.push_request(100, 100, (), &mut marks);
            q.by_key(&100).unwrap().done = true;
            assert_eq!(q.pop_front_done(&mut marks).unwrap().key, 100);
            // Emptied out of order (an eviction by key), the same.
            for key in 101..201 {
                q.push_request(key, i64::from(key), (), &mut marks);
            }
            for key in (101..201).rev() {
                assert!(q.remove(&key, &mut marks).is_some());
            }
            assert!(q.is_empty());
            assert!(
                q.waiting.capacity() <= KEPT_EMPTY_SLOTS,
                "{}",
                q.waiting.capacity()
            );
            // One at a time: the slots taken by the first stay.
            q.push_request(200, 200, (), &mut marks);
            q.by_key(&200).unwrap().done = true;
            q.pop_front_done(&mut marks).unwrap();
            let kept = q.waiting.capacity();
            assert!(kept > 0);
            for key in 201..220 {
                q.push_request(key, i64::from(key), (), &mut marks);
                q.by_key(&key).unwrap().done = true;
                q.pop_front_done(&mut marks).unwrap();
            }
            assert_eq!(q.waiting.capacity(), kept);
        }
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn fifo_pairs_in_order_and_holds_the_watermark() {
        let mut marks = Watermark::default();
        // Pipelined protocols key by request number.
        let mut q: PairingQueue<u32, &str> = PairingQueue::new(10);
        assert!(q.push_request(1, 10, "a", &mut marks).is_none());
        q.push_request(2, 20, "b", &mut marks);
        assert_eq!(marks.min(), Some(10));
        let first = q.oldest_unanswered().unwrap();
        first.answered = true;
        first.times.response_first_ns = Some(30);
        assert_eq!(q.oldest_unanswered().unwrap().item, "b");
        // "b" done first cannot overtake "a".
        q.oldest_unanswered().unwrap().done = true;
        assert!(q.pop_front_done(&mut marks).is_none());
        q.by_key(&1).unwrap().done = true;
        let a = q.pop_front_done(&mut marks).unwrap();
        assert_eq!((a.item, a.times.ttfb_ns()), ("a", Some(20)));
        assert_eq!(marks.min(), Some(20));
        assert_eq!(q.pop_front_done(&mut marks).unwrap().item, "b");
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn keyed_lookup_and_limit() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u32, ()> = PairingQueue::new(2);
        q.push_request(7, 1, (), &mut marks);
        q.push_request(9, 2, (), &mut marks);
        let evicted = q.push_request(11, 3, (), &mut marks).unwrap();
        assert_eq!(evicted.key, 7);
        assert!(q.by_key(&9).is_some());
        assert_eq!(q.remove(&9, &mut marks).unwrap().key, 9);
        assert_eq!(marks.min(), Some(3));
        assert_eq!(q.drain(&mut marks).len(), 1);
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn out_of_order_removal_leaves_no_trace() {
        out_of_order_removal_in(PairingQueue::new(100_000));
        out_of_order_removal_in(PairingQueue::ordered(100_000));
        // The last push breaks the count: the index turns hashed and keeps working.
        out_of_order_removal_in(PairingQueue::consecutive(100_000, |&id| id));
    }

    #[test]
    fn ordered_keys_are_found_by_search_through_holes_and_compaction() {
        keys_found_through_holes_and_compaction(PairingQueue::ordered(usize::MAX));
    }

    #[test]
    fn consecutive_keys_are_computed_through_holes_and_compaction() {
        keys_found_through_holes_and_compaction(PairingQueue::consecutive(usize::MAX, |&d| {
            u64::from(d)
        }));
    }

    #[test]
    fn consecutive_keys_that_skip_fall_back_to_hashing() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u32, u32> = PairingQueue::consecutive(8, |&k| u64::from(k));
        for key in [5, 6, 9, 2, 3] {
            q.push(key, None, key * 10, &mut marks);
        }
        for key in [5, 6, 9, 2, 3] {
            assert_eq!(q.by_key(&key).map(|p| p.item), Some(key * 10), "{key}");
        }
        assert!(!q.contains(&7) && !q.contains(&4));
        assert_eq!(q.remove(&9, &mut marks).unwrap().item, 90);
        assert_eq!(q.by_key(&2).map(|p| p.item), Some(20));
    }

    fn keys_found_through_holes_and_compaction(mut q: PairingQueue<u32, u32>) {
        let mut marks = Watermark::default();
        for depth in 1..=5000u32 {
            q.push(depth, None, depth * 10, &mut marks);
        }
        // Holes behind a waiting front (evictions), enough to compact.
        for depth in (2..=5000u32).filter(|d| d % 4 != 0) {
            assert_eq!(q.remove(&depth, &mut marks).unwrap().item, depth * 10);
        }
        assert_eq!(q.len(), 1 + 1250);
        assert!(q.waiting.len() <= q.len() + HOLES_KEPT + 1);
        for depth in 1..=5000u32 {
            let kept = depth == 1 || depth % 4 == 0;
            assert_eq!(q.contains(&depth), kept, "{depth}");
            assert_eq!(q.by_key(&depth).map(|p| p.item), kept.then_some(depth * 10));
        }
        assert!(q.remove(&3, &mut marks).is_none(), "already gone");
        q.by_key(&1).unwrap().done = true;
        assert_eq!(q.pop_front_done(&mut marks).unwrap().key, 1);
        q.push(5001, Some(7), 0, &mut marks);
        assert_eq!(q.by_key(&5001).unwrap().times.request_first_ns, Some(7));
        assert_eq!(q.drain(&mut marks).len(), 1251);
        assert!(!q.contains(&4) && marks.min().is_none());
    }

    fn out_of_order_removal_in(mut q: PairingQueue<u64, ()>) {
        let mut marks = Watermark::default();
        for id in 0..50_000u64 {
            q.push_request(id, id as i64, (), &mut marks);
        }
        // Answer every other one out of order, then the rest from the back: O(1) each.
        for id in (0..50_000u64).rev().step_by(2) {
            assert_eq!(q.remove(&id, &mut marks).unwrap().key, id);
        }
        assert_eq!(q.len(), 25_000);
        assert_eq!(marks.min(), Some(0));
        assert_eq!(q.by_key(&2).unwrap().key, 2);
        assert!(q.by_key(&3).is_none());
        for id in (0..50_000u64).step_by(2) {
            q.remove(&id, &mut marks).unwrap();
        }
        assert!(q.is_empty());
        assert_eq!(marks.min(), None);
        // Sequence numbers keep working after the holes.
        q.push_request(7, 70, (), &mut marks);
        assert_eq!(q.by_key(&7).unwrap().times.request_first_ns, Some(70));
        assert_eq!(q.drain(&mut marks).len(), 1);
        assert!(q.by_key(&7).is_none());
    }

    #[test]
    fn holes_behind_a_waiting_front_are_squeezed_out() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u64, ()> = PairingQueue::new(usize::MAX);
        // One old exchange waits; 100 000 later ones are answered out of order behind it.
        q.push_request(0, 0, (), &mut marks);
        for id in 1..100_000u64 {
            q.push_request(id, id as i64, (), &mut marks);
            q.remove(&id, &mut marks).unwrap();
            assert!(
                q.waiting.len() <= 2 + HOLES_KEPT,
                "holes grow with the rate"
            );
        }
        q.push_request(7_000_000, 5, (), &mut marks);
        assert_eq!(q.by_key(&0).unwrap().key, 0);
        assert_eq!(
            q.by_key(&7_000_000).unwrap().times.request_first_ns,
            Some(5)
        );
        assert!(q.contains(&0) && !q.contains(&5));
        assert_eq!(marks.min(), Some(0));
        // Timeouts pop from the front by start time.
        let old = q.pop_front_where(&mut marks, |p| p.times.request_first_ns < Some(1));
        assert_eq!(old.unwrap().key, 0);
        assert!(q
            .pop_front_where(&mut marks, |p| p.times.request_first_ns < Some(1))
            .is_none());
        assert_eq!(marks.min(), Some(5));
    }

    #[test]
    fn a_hold_taken_over_from_a_message_leaves_the_watermark_as_hold_would() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u32, ()> = PairingQueue::new(8);
        // The request message held 10; its transaction takes that hold over.
        marks.add(10);
        q.push(1, None, (), &mut marks);
        let p = q.by_key(&1).unwrap();
        p.hold_instead_of(10, 10, &mut marks);
        assert_eq!((marks.min(), p.held_at()), (Some(10), Some(10)));
        // The response message held 20 and gives it up; the transaction stays at 10.
        marks.add(20);
        p.hold_instead_of(20, 10, &mut marks);
        assert_eq!((marks.min(), p.held_at()), (Some(10), Some(10)));
        // A start that moved earlier: both the message's and the old hold go.
        marks.add(15);
        p.hold_instead_of(15, 5, &mut marks);
        assert_eq!((marks.min(), p.held_at()), (Some(5), Some(5)));
        q.iter_mut().for_each(|p| p.done = true);
        assert!(q.pop_front_done(&mut marks).is_some());
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn an_exchange_pushed_without_a_start_holds_nothing_until_told() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u32, ()> = PairingQueue::new(8);
        q.push(1, None, (), &mut marks);
        assert_eq!(marks.min(), None);
        let p = q.by_key(&1).unwrap();
        p.hold(40, &mut marks);
        p.hold(30, &mut marks);
        assert_eq!((marks.min(), p.held_at()), (Some(30), Some(30)));
        q.iter_mut().for_each(|p| p.done = true);
        assert!(q.pop_front_done(&mut marks).is_some());
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn latencies_saturate() {
        let e = Exchange {
            request_first_ns: Some(i64::MIN),
            request_last_ns: Some(i64::MIN),
            response_first_ns: Some(i64::MAX),
            response_last_ns: Some(i64::MAX),
        };
        assert_eq!(e.ttfb_ns(), Some(i64::MAX));
        assert_eq!(e.server_ns(), Some(i64::MAX));
    }
}
